//! GraphQL responses as the GraphQL-over-HTTP spec wants them: the media type the client asked
//! for (`application/graphql-response+json` when it prefers it, else `application/json`), and,
//! for the new media type, status 400 and no `data` entry when the request never ran (it did not
//! parse, validate or coerce its variables). `application/json` keeps status 200 for those, as
//! older clients only read the body of a 200.

use std::collections::BTreeMap;

use async_graphql::{ServerError, Value};
use poem::{
    IntoResponse, Request,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
};
use serde::Serialize;

use crate::domain::ErrorCode;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The response media type, chosen from the request's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: the legacy type, and the default (no `Accept`, `*/*`, anything else).
    Json,
    /// `application/graphql-response+json`, when the client lists it at least as high as JSON.
    GraphqlResponseJson,
}

impl MediaType {
    pub fn of(req: &Request) -> Self {
        Self::negotiate(req.headers())
    }

    /// Only an explicit `application/graphql-response+json` selects it (a wildcard never does),
    /// and it wins ties with `application/json`, as the spec prefers it.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let (mut graphql_q, mut json_q, mut wildcard_q) = (None::<f32>, None::<f32>, None::<f32>);
        for value in headers.get_all(header::ACCEPT) {
            let Ok(value) = value.to_str() else { continue };
            for range in value.split(',') {
                let mut parts = range.split(';');
                let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
                let q = parts
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                    .and_then(|(_, v)| v.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let slot = match essence.as_str() {
                    GRAPHQL_RESPONSE_JSON => &mut graphql_q,
                    JSON => &mut json_q,
                    "application/*" | "*/*" => &mut wildcard_q,
                    _ => continue,
                };
                *slot = Some(slot.map_or(q, |old| old.max(q)));
            }
        }
        let json_q = json_q.or(wildcard_q).unwrap_or(0.0);
        match graphql_q {
            Some(q) if q > 0.0 && q >= json_q => MediaType::GraphqlResponseJson,
            _ => MediaType::Json,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            MediaType::Json => "application/json; charset=utf-8",
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }

    /// A request error's status: the given one, except that a GraphQL request error (`status`
    /// 200 for `application/json`) is 400 for `application/graphql-response+json`.
    fn request_error_status(self, status: StatusCode) -> StatusCode {
        match self {
            MediaType::GraphqlResponseJson if status == StatusCode::OK => StatusCode::BAD_REQUEST,
            _ => status,
        }
    }
}

/// The response body: `data` is left out when the operation never ran.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

/// Whether the request failed before execution: async-graphql answers a document that does not
/// parse or validate (variables included) with no data and errors that have no field path,
/// while every error raised during execution carries the path of its field.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Writes an executed (or refused) GraphQL response, with the headers resolvers set (cookies).
/// Answers carry the caller's data: no shared cache (or browser history) may keep them.
pub fn graphql(media: MediaType, response: async_graphql::Response) -> poem::Response {
    let request_error = is_request_error(&response);
    let body = Body {
        data: (!request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let status = if request_error {
        media.request_error_status(StatusCode::OK)
    } else {
        StatusCode::OK
    };
    let mut resp = write(media, status, &body);
    let headers = resp.headers_mut();
    for (name, value) in response.http_headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    resp
}

/// A request that never reached GraphQL (unreadable body, refused content type, too large, a
/// mutation over GET), in the GraphQL response shape so clients parse one format.
pub fn error(
    media: MediaType,
    status: StatusCode,
    code: ErrorCode,
    message: &str,
) -> poem::Response {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    refusal(media, status, error)
}

/// Like [`error`], for an error that carries more than its code.
pub fn refusal(media: MediaType, status: StatusCode, error: ServerError) -> poem::Response {
    let errors = [error];
    let body = Body {
        data: None,
        errors: &errors,
        extensions: &BTreeMap::new(),
    };
    write(media, media.request_error_status(status), &body)
}

fn write(media: MediaType, status: StatusCode, body: &Body<'_>) -> poem::Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => poem::Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, media.content_type())
            .header(header::CACHE_CONTROL, "no-store")
            .body(bytes),
        Err(err) => {
            tracing::error!(error = %err, "cannot serialize a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> MediaType {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        MediaType::negotiate(&headers)
    }

    #[test]
    fn the_new_media_type_only_when_asked_for_at_least_as_much_as_json() {
        use MediaType::*;
        assert_eq!(MediaType::negotiate(&HeaderMap::new()), Json);
        assert_eq!(accept("*/*"), Json);
        assert_eq!(accept("application/json"), Json);
        assert_eq!(accept("text/html"), Json);
        assert_eq!(
            accept("application/graphql-response+json"),
            GraphqlResponseJson
        );
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            GraphqlResponseJson
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json"),
            GraphqlResponseJson
        );
        assert_eq!(
            accept("application/json, Application/GraphQL-Response+JSON;q=0.5"),
            Json
        );
        assert_eq!(accept("application/graphql-response+json;q=0"), Json);
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, */*;q=0.1"),
            GraphqlResponseJson
        );
    }
}
