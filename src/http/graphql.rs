//! GraphQL over HTTP: POST for everything, GET for queries only.

use async_graphql::{
    BatchRequest, Response,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};
use async_graphql_poem::GraphQLResponse;
use poem::{
    Body, IntoResponse, Request,
    error::ReadBodyError,
    handler,
    http::{HeaderValue, StatusCode, header},
    web::{Data, Query, websocket::WebSocket},
};
use serde::Deserialize;

use super::HttpSettings;
use crate::{
    auth::ClientInfo,
    domain::ErrorCode,
    graphql::{AppSchema, context::RequestAuth, error::ensure_codes},
    quiz::RequestBudget,
};

pub(super) async fn request_auth(req: &Request, http: &HttpSettings) -> RequestAuth {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let client = ClientInfo {
        ip: http
            .proxies
            .client_ip(peer, header(X_FORWARDED_FOR).as_deref()),
        user_agent: header(header::USER_AGENT.as_str()),
    };
    RequestAuth::check(http.cookies.access_token(req.headers()), client, &http.auth).await
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

fn request_error(status: StatusCode, message: &str) -> poem::Response {
    super::error_response(status, ErrorCode::BadUserInput, message)
}

/// Whether a request may run a mutation: GET must not (a link or an image could send one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutations {
    Allowed,
    Refused,
}

/// Bounds the document's size, parses it (or takes it from the cache) and checks the query
/// limits; the error response when it breaks one. A document that does not parse passes: the
/// executor reports it in the usual shape.
pub(super) fn limits_refusal(
    http: &HttpSettings,
    gql: &mut async_graphql::Request,
) -> Option<Response> {
    let refusal = |exceeded: crate::graphql::limits::LimitExceeded| {
        Some(Response::from_errors(vec![exceeded.into()]))
    };
    // Bounded before anything parses it.
    if let Err(exceeded) = http.limits.check_size(&gql.query) {
        return refusal(exceeded);
    }
    let operation = gql.operation_name.clone();
    // Only a document parsed now needs remembering (and its query text copied for the key).
    let fresh_query = (!http.parse_cache.fill(gql)).then(|| gql.query.clone());
    let Ok(doc) = gql.parsed_query() else {
        return None;
    };
    if let Err(exceeded) = http.limits.check(doc, operation.as_deref()) {
        return refusal(exceeded);
    }
    if let Some(query) = &fresh_query {
        http.parse_cache.keep(query, doc);
    }
    None
}

async fn execute(
    schema: &AppSchema,
    http: &HttpSettings,
    req: &Request,
    mut gql: async_graphql::Request,
    mutations: Mutations,
) -> poem::Response {
    if let Some(refused) = limits_refusal(http, &mut gql) {
        return GraphQLResponse(refused).into_response();
    }
    let operation = gql.operation_name.clone();
    let response = match gql.parsed_query() {
        Ok(doc) if mutations == Mutations::Refused && is_mutation(doc, operation.as_deref()) => {
            return request_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Mutations must be sent with POST.",
            )
            .with_header(header::ALLOW, "POST")
            .into_response();
        }
        Ok(_) => {
            let auth = request_auth(req, http).await;
            if super::subscriptions::wants_multipart(req) {
                return super::subscriptions::multipart(schema, http, gql, auth);
            }
            schema
                .execute(gql.data(auth).data(RequestBudget::default()))
                .await
        }
        // Unparsable: let the executor report it in the usual shape.
        Err(_) => schema.execute(gql).await,
    };
    // Answers carry the caller's data: no shared cache (or browser history) may keep them.
    let mut resp = GraphQLResponse(ensure_codes(response)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Content types an HTML form can send cross-site without a CORS preflight.
const FORM_CONTENT_TYPES: [&str; 3] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];
/// Headers a browser only sends cross-site after a preflight, as Apollo's CSRF prevention uses.
const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-apollo-operation-name"];

/// A cookie-carrying cross-site POST must not run an operation: refuse bodies a form could
/// have sent unless a header proves the browser did a preflight.
fn is_csrf_safe(req: &Request) -> bool {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let form_like = essence
        .as_deref()
        .is_none_or(|ct| ct.is_empty() || FORM_CONTENT_TYPES.contains(&ct));
    !form_like
        || PREFLIGHT_HEADERS.iter().any(|h| {
            req.headers()
                .get(*h)
                .is_some_and(|v| !v.as_bytes().is_empty())
        })
}

#[handler]
pub async fn post(
    req: &Request,
    body: Body,
    schema: Data<&AppSchema>,
    http: Data<&HttpSettings>,
) -> poem::Response {
    let limits = &http.limits;
    if !is_csrf_safe(req) {
        return request_error(
            StatusCode::BAD_REQUEST,
            "This request has no Content-Type a browser form cannot send: use \
             Content-Type: application/json (or send an Apollo-Require-Preflight header).",
        );
    }
    let bytes = match body.into_bytes_limit(limits.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(ReadBodyError::PayloadTooLarge) => {
            return request_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "The request body is larger than {} bytes.",
                    limits.max_body_bytes
                ),
            );
        }
        Err(err) => {
            // A body slower than HTTP_BODY_TIMEOUT fails with TimedOut (see `server`).
            let status = match &err {
                ReadBodyError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    StatusCode::REQUEST_TIMEOUT
                }
                _ => StatusCode::BAD_REQUEST,
            };
            return request_error(status, &format!("Could not read the request body: {err}"));
        }
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let batch =
        async_graphql::http::receive_batch_body(content_type, bytes.as_ref(), Default::default())
            .await;
    match batch {
        Ok(BatchRequest::Single(gql)) => {
            execute(&schema, &http, req, gql, Mutations::Allowed).await
        }
        Ok(BatchRequest::Batch(_)) => request_error(
            StatusCode::BAD_REQUEST,
            "Batched requests are not supported; send one operation per request.",
        ),
        Err(err) => request_error(
            StatusCode::BAD_REQUEST,
            &format!("Could not read the GraphQL request: {err}"),
        ),
    }
}

/// The GraphQL-over-HTTP GET parameters (note `operationName`, camel-case, as the spec names it).
#[derive(Debug, Deserialize)]
pub struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GetParams {
    fn into_request(self) -> Result<async_graphql::Request, String> {
        let mut gql = async_graphql::Request::new(self.query);
        gql.operation_name = self.operation_name.filter(|n| !n.is_empty());
        if let Some(v) = self.variables.filter(|v| !v.trim().is_empty()) {
            gql.variables =
                serde_json::from_str(&v).map_err(|e| format!("invalid variables: {e}"))?;
        }
        if let Some(e) = self.extensions.filter(|e| !e.trim().is_empty()) {
            gql.extensions =
                serde_json::from_str(&e).map_err(|e| format!("invalid extensions: {e}"))?;
        }
        Ok(gql)
    }
}

#[handler]
pub async fn get(
    req: &Request,
    websocket: poem::Result<WebSocket>,
    params: poem::Result<Query<GetParams>>,
    schema: Data<&AppSchema>,
    http: Data<&HttpSettings>,
) -> poem::Response {
    // Subscriptions over WebSocket share the URL with GraphQL over HTTP.
    if req.headers().contains_key(header::UPGRADE) {
        return match websocket {
            Ok(websocket) => super::subscriptions::upgrade(req, websocket, &schema, &http).await,
            Err(err) => request_error(
                StatusCode::BAD_REQUEST,
                &format!("Not a WebSocket upgrade: {err}"),
            ),
        };
    }
    let parsed = params
        .map_err(|e| e.to_string())
        .and_then(|Query(p)| p.into_request());
    match parsed {
        Ok(gql) => execute(&schema, &http, req, gql, Mutations::Refused).await,
        Err(err) => request_error(
            StatusCode::BAD_REQUEST,
            &format!("Could not read the GraphQL request: {err}"),
        ),
    }
}

/// Whether the operation that would run is a mutation.
fn is_mutation(doc: &ExecutableDocument, operation: Option<&str>) -> bool {
    let ty = match &doc.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => match operation {
            Some(name) => ops.get(name).map(|op| op.node.ty),
            None if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
            None => None,
        },
    };
    ty == Some(OperationType::Mutation)
}
