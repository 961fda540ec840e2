//! GraphQL over HTTP: POST for everything, GET for queries only.

use async_graphql::{
    BatchRequest, Response, ServerError, Value,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    },
};
use poem::{
    Body, Request,
    error::ReadBodyError,
    handler,
    http::{Method, StatusCode, header},
    web::{Data, Query, websocket::WebSocket},
};
use serde::Deserialize;
use tracing::Instrument;

use super::{
    HttpState,
    response::{self, MediaType},
};
use crate::{
    domain::ErrorCode,
    domain::{ClientInfo, ClientKind, Locale},
    graphql::{
        AppSchema,
        context::{BrowserLocale, RequestAuth},
        error::{Reader, VariableStrings, ensure_codes, localize},
        limits::is_plain_operation_name,
        trusted::Requested,
    },
    ratelimit::RequestBudget,
};

pub(super) async fn request_auth(req: &Request, http: &HttpState) -> RequestAuth {
    let client = client_info(req, http);
    RequestAuth::check(http.cookies.access_token(req.headers()), client, &http.auth).await
}

/// Who is calling, as far as the request tells: address, user agent, kind and language.
pub(super) fn client_info(req: &Request, http: &HttpState) -> ClientInfo {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    // A line that is not text becomes a hop that is no address, which ends the walk there.
    let forwarded_for = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .iter()
        .map(|line| line.to_str().unwrap_or("?"));
    ClientInfo {
        ip: http.proxies.client_ip(peer, forwarded_for),
        user_agent: header(header::USER_AGENT.as_str()),
        kind: client_kind(req),
        locale: accept_language(req),
    }
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The language the request's `Accept-Language` prefers among ours.
pub(super) fn accept_language(req: &Request) -> Option<Locale> {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Locale::from_accept_language)
}

/// A browser sends `Origin` on every POST and WebSocket upgrade (and `Sec-Fetch-Site` on every
/// request to an HTTPS or localhost origin), and no script can remove either; a plain GET runs
/// no mutation, so it never gets a token anyway and counts as a browser's. Native clients send
/// neither header.
fn client_kind(req: &Request) -> ClientKind {
    let headers = req.headers();
    let plain_get = req.method() == Method::GET && !headers.contains_key(header::UPGRADE);
    if plain_get || headers.contains_key(header::ORIGIN) || headers.contains_key(SEC_FETCH_SITE) {
        ClientKind::Browser
    } else {
        ClientKind::Native
    }
}

const SEC_FETCH_SITE: &str = "sec-fetch-site";

fn request_error(media: MediaType, status: StatusCode, message: &str) -> poem::Response {
    response::error(media, status, ErrorCode::BadUserInput, message)
}

/// Whether a request may run a mutation: GET must not (a link or an image could send one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutations {
    Allowed,
    Refused,
}

/// For every document, over HTTP and WebSocket: bounds its size, parses it (or takes it from
/// the cache, keeping a fresh parse for the next request with the same text) and checks the
/// query limits and the single-root-field rule of subscriptions; the error response when it
/// breaks one. A document that does not parse passes:
/// the executor reports it in the usual shape.
pub(super) fn limits_refusal(
    http: &HttpState,
    gql: &mut async_graphql::Request,
) -> Option<Response> {
    let refusal = |exceeded: crate::graphql::limits::LimitExceeded| {
        Some(Response::from_errors(vec![exceeded.into()]))
    };
    if let Err(exceeded) = http
        .limits
        .check_operation_name(gql.operation_name.as_deref())
    {
        return refusal(exceeded);
    }
    if let Err(exceeded) = http.limits.check_size(&gql.query) {
        return refusal(exceeded);
    }
    let operation = gql.operation_name.clone();
    let fresh_query = (!http.parse_cache.fill(gql)).then(|| gql.query.clone());
    let Ok(doc) = gql.parsed_query() else {
        return None;
    };
    if let Err(exceeded) = http.limits.check(doc, operation.as_deref()) {
        return refusal(exceeded);
    }
    if let Err(broken) = crate::graphql::single_root::check(doc) {
        return Some(Response::from_errors(vec![broken]));
    }
    if let Some(query) = &fresh_query {
        http.parse_cache.keep(query, doc);
    }
    None
}

/// Why an operation's text cannot run.
pub(super) enum Untrusted {
    /// No text, and no trusted document named.
    NoQuery,
    /// `OPERATION_NOT_TRUSTED` or `PERSISTED_QUERY_NOT_FOUND`.
    Refused(ServerError),
}

/// Where an operation's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// A trusted document named by id: a name from a bounded set, fit for a metric label.
    TrustedDocument,
    /// The client's own text.
    FreeText,
}

/// For every operation, over HTTP and WebSocket: a trusted document named by id replaces the
/// text; free text runs only where allowed.
pub(super) fn resolve_trusted(
    http: &HttpState,
    gql: &mut async_graphql::Request,
    document_id: Option<&str>,
) -> Result<Source, Untrusted> {
    let requested = Requested {
        query: &gql.query,
        document_id,
        persisted_hash: persisted_hash(gql),
    };
    match http.trusted.resolve(&requested) {
        Ok(Some(document)) => {
            gql.query = document.to_owned();
            Ok(Source::TrustedDocument)
        }
        Ok(None) if gql.query.trim().is_empty() => Err(Untrusted::NoQuery),
        Ok(None) => Ok(Source::FreeText),
        Err(refused) => Err(Untrusted::Refused(refused)),
    }
}

async fn execute(
    schema: &AppSchema,
    http: &HttpState,
    req: &Request,
    mut gql: async_graphql::Request,
    document_id: Option<&str>,
    mutations: Mutations,
) -> poem::Response {
    let media = MediaType::of(req);
    let mut operation = OperationRecord::start();
    match resolve_trusted(http, &mut gql, document_id) {
        Ok(source) => operation.trusted = source == Source::TrustedDocument,
        Err(Untrusted::NoQuery) => {
            operation.finish(Outcome::Refused);
            return request_error(
                media,
                StatusCode::BAD_REQUEST,
                "The request has no query (and names no trusted document with documentId).",
            );
        }
        Err(Untrusted::Refused(refused)) => {
            operation.finish(Outcome::Refused);
            return response::graphql(media, Response::from_errors(vec![refused]));
        }
    }
    let refusal = limits_refusal(http, &mut gql);
    // A document within the size limit has been parsed by now (or found unparsable); a larger
    // one is never parsed, so its operation stays unknown.
    if http.limits.check_size(&gql.query).is_ok() {
        let operation_name = gql.operation_name.clone();
        if let Ok(doc) = gql.parsed_query() {
            operation.identify(doc, operation_name.as_deref());
        }
    }
    if let Some(refused) = refusal {
        operation.finish(Outcome::Refused);
        return response::graphql(media, refused);
    }
    let span = operation.span();
    // Kept to blank them out of async-graphql's own error messages (only when there are any).
    let variables = if gql.variables.is_empty() {
        VariableStrings::default()
    } else {
        VariableStrings::of(&gql.variables)
    };
    let mut reader = Reader {
        user: None,
        accept_language: accept_language(req),
    };
    let response = match gql.parsed_query() {
        Ok(_) if mutations == Mutations::Refused && operation.is(OperationType::Mutation) => {
            operation.finish(Outcome::Refused);
            let mut refused = request_error(
                media,
                StatusCode::METHOD_NOT_ALLOWED,
                "Mutations must be sent with POST.",
            );
            refused
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            return refused;
        }
        Ok(_) => {
            let auth = request_auth(req, http).instrument(span.clone()).await;
            if super::subscriptions::wants_multipart(req) {
                operation.finish(Outcome::Ok);
                return super::subscriptions::multipart(schema, http, media, gql, auth).await;
            }
            reader.user = auth.caller().ok().flatten().map(|c| c.sub.clone());
            schema
                .execute(
                    gql.data(auth)
                        .data(RequestBudget::default())
                        .data(BrowserLocale(reader.accept_language)),
                )
                .instrument(span.clone())
                .await
        }
        // Unparsable: let the executor report it in the usual shape.
        Err(_) => schema.execute(gql).await,
    };
    let response = localize(response, &reader, &http.auth).await;
    let outcome = Outcome::of(&response);
    span.record("graphql.outcome", outcome.as_str());
    operation.finish(outcome);
    response::graphql(media, ensure_codes(response, &variables))
}

/// The `outcome` label of the operation metrics and the `graphql.outcome` span field.
#[derive(Debug, Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
enum Outcome {
    Ok,
    /// Ran, with errors.
    Error,
    /// Never ran: refused, unparsable or invalid.
    Refused,
}

impl Outcome {
    fn of(response: &Response) -> Self {
        if response::is_request_error(response) {
            Outcome::Refused
        } else if response.errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error
        }
    }

    fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One operation, for `graphql_operations_total` and `graphql_operation_duration_seconds`: its
/// type and name are known once its document parsed (a client's `operationName` that names
/// nothing in the document never becomes a label).
struct OperationRecord {
    started: std::time::Instant,
    selected: Option<(OperationType, Option<String>)>,
    /// The first field the operation selects, fragments spread in place.
    root_field: Option<String>,
    /// The document came from the trusted documents' manifest (named by id).
    trusted: bool,
}

impl OperationRecord {
    fn start() -> Self {
        OperationRecord {
            started: std::time::Instant::now(),
            selected: None,
            root_field: None,
            trusted: false,
        }
    }

    fn identify(&mut self, doc: &ExecutableDocument, operation: Option<&str>) {
        self.selected = selected_operation(doc, operation);
        self.root_field = first_root_field(doc, operation);
    }

    /// The operation's span: its type and name (from the document, never the variables or the
    /// text), and later its outcome.
    fn span(&self) -> tracing::Span {
        let (ty, name) = match &self.selected {
            Some((ty, name)) => (operation_type(*ty), name.as_deref().unwrap_or("")),
            None => ("unknown", ""),
        };
        tracing::info_span!(
            "graphql.operation",
            graphql.operation.type = ty,
            graphql.operation.name = name,
            graphql.outcome = tracing::field::Empty,
        )
    }

    fn is(&self, ty: OperationType) -> bool {
        self.selected.as_ref().is_some_and(|(t, _)| *t == ty)
    }

    /// Labels only from sets the client cannot grow: names from the manifest, root fields of
    /// operations that passed validation (so fields of the schema).
    fn finish(&self, outcome: Outcome) {
        if !crate::telemetry::metrics::enabled() {
            return;
        }
        let (ty, name) = match &self.selected {
            Some((ty, name)) => (operation_type(*ty), name.as_deref()),
            None => ("unknown", None),
        };
        let name = match name {
            None => "anonymous",
            Some(name) if self.trusted => name,
            Some(_) => "other",
        };
        let root_field = match outcome {
            Outcome::Ok | Outcome::Error => self.root_field.as_deref().unwrap_or("none"),
            Outcome::Refused => "none",
        };
        crate::telemetry::metrics::record_operation(
            ty,
            name,
            root_field,
            outcome.as_str(),
            self.started.elapsed().as_secs_f64(),
        );
    }
}

/// Apollo's automatic persisted queries name a document in
/// `extensions.persistedQuery.sha256Hash`.
fn persisted_hash(gql: &async_graphql::Request) -> Option<&str> {
    match gql.extensions.get("persistedQuery")? {
        Value::Object(persisted) => match persisted.get("sha256Hash")? {
            Value::String(hash) => Some(hash),
            _ => None,
        },
        _ => None,
    }
}

/// The one field of a POST body (or a subscribe payload) that async-graphql's request does
/// not read.
#[derive(Debug, Deserialize)]
pub(super) struct DocumentId {
    #[serde(rename = "documentId")]
    pub document_id: Option<String>,
}

/// Content types an HTML form can send cross-site without a CORS preflight.
const FORM_CONTENT_TYPES: [&str; 3] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];
fn is_multipart(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"))
}

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
    http: Data<&HttpState>,
) -> poem::Response {
    let limits = &http.limits;
    let media = MediaType::of(req);
    if !is_csrf_safe(req) {
        return request_error(
            media,
            StatusCode::BAD_REQUEST,
            "This request has no Content-Type a browser form cannot send: use \
             Content-Type: application/json (or send an Apollo-Require-Preflight header).",
        );
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // An upload's body holds its file: it may be UPLOAD_MAX_BYTES larger, and no more, since
    // the body is cut off while it is read. A file past UPLOAD_MAX_BYTES that still fits is
    // refused by the upload itself, with a message that names the file.
    let max_body_bytes = if content_type.is_some_and(is_multipart) {
        limits.max_body_bytes.saturating_add(http.upload_max_bytes)
    } else {
        limits.max_body_bytes
    };
    let bytes = match body.into_bytes_limit(max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(ReadBodyError::PayloadTooLarge) => {
            return request_error(
                media,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The request body is larger than {max_body_bytes} bytes."),
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
            return request_error(
                media,
                status,
                &format!("Could not read the request body: {err}"),
            );
        }
    };
    // One file per request: uploads are read one at a time, each within its own bounds.
    let multipart = async_graphql::http::MultipartOptions::default().max_num_files(1);
    let batch =
        async_graphql::http::receive_batch_body(content_type, bytes.as_ref(), multipart).await;
    match batch {
        Ok(BatchRequest::Single(gql)) => {
            // Only a request without text can be one naming a trusted document: the body is
            // read a second time only then.
            let document_id = gql
                .query
                .is_empty()
                .then(|| serde_json::from_slice::<DocumentId>(&bytes).ok())
                .flatten()
                .and_then(|d| d.document_id);
            execute(
                &schema,
                &http,
                req,
                gql,
                document_id.as_deref(),
                Mutations::Allowed,
            )
            .await
        }
        Ok(BatchRequest::Batch(_)) => request_error(
            media,
            StatusCode::BAD_REQUEST,
            "Batched requests are not supported; send one operation per request.",
        ),
        Err(err) => request_error(
            media,
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
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

impl GetParams {
    fn into_request(self) -> Result<(async_graphql::Request, Option<String>), String> {
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
        Ok((gql, self.document_id.filter(|id| !id.is_empty())))
    }
}

#[handler]
pub async fn get(
    req: &Request,
    websocket: poem::Result<WebSocket>,
    params: poem::Result<Query<GetParams>>,
    schema: Data<&AppSchema>,
    http: Data<&HttpState>,
) -> poem::Response {
    // Subscriptions over WebSocket share the URL with GraphQL over HTTP.
    if req.headers().contains_key(header::UPGRADE) {
        return match websocket {
            Ok(websocket) => super::subscriptions::upgrade(req, websocket, &schema, &http).await,
            Err(err) => request_error(
                MediaType::of(req),
                StatusCode::BAD_REQUEST,
                &format!("Not a WebSocket upgrade: {err}"),
            ),
        };
    }
    let parsed = params
        .map_err(|e| e.to_string())
        .and_then(|Query(p)| p.into_request());
    match parsed {
        Ok((gql, document_id)) => {
            execute(
                &schema,
                &http,
                req,
                gql,
                document_id.as_deref(),
                Mutations::Refused,
            )
            .await
        }
        Err(err) => request_error(
            MediaType::of(req),
            StatusCode::BAD_REQUEST,
            &format!("Could not read the GraphQL request: {err}"),
        ),
    }
}

fn operation_type(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// The operation that would run, with its name as the document spells it (a name that is too
/// long to run never leaves here).
fn selected_operation(
    doc: &ExecutableDocument,
    operation: Option<&str>,
) -> Option<(OperationType, Option<String>)> {
    let (name, op) = operation_definition(doc, operation)?;
    let name = name.filter(|n| is_plain_operation_name(n));
    Some((op.ty, name.map(str::to_owned)))
}

fn operation_definition<'a>(
    doc: &'a ExecutableDocument,
    operation: Option<&str>,
) -> Option<(Option<&'a str>, &'a OperationDefinition)> {
    match &doc.operations {
        DocumentOperations::Single(op) => Some((None, &op.node)),
        DocumentOperations::Multiple(ops) => match operation {
            Some(name) => ops
                .get_key_value(name)
                .map(|(name, op)| (Some(name.as_str()), &op.node)),
            None if ops.len() == 1 => ops
                .iter()
                .next()
                .map(|(name, op)| (Some(name.as_str()), &op.node)),
            None => None,
        },
    }
}

/// The name (not the alias) of the first field the selected operation selects, looking through
/// fragments; a chain of fragments that leads nowhere (validation refuses it later) gives none.
fn first_root_field(doc: &ExecutableDocument, operation: Option<&str>) -> Option<String> {
    let (_, op) = operation_definition(doc, operation)?;
    let mut set = &op.selection_set.node;
    let mut spreads = 0;
    loop {
        set = match &set.items.first()?.node {
            Selection::Field(field) => return Some(field.node.name.node.to_string()),
            Selection::InlineFragment(fragment) => &fragment.node.selection_set.node,
            Selection::FragmentSpread(spread) => {
                spreads += 1;
                if spreads > doc.fragments.len() {
                    return None;
                }
                &doc.fragments
                    .get(&spread.node.fragment_name.node)?
                    .node
                    .selection_set
                    .node
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn root_field(query: &str, operation: Option<&str>) -> Option<String> {
        first_root_field(&parse_query(query).unwrap(), operation)
    }

    #[test]
    fn the_root_field_is_found_through_fragments() {
        assert_eq!(
            root_field("{ mine: me { id } quizzes { totalCount } }", None).as_deref(),
            Some("me")
        );
        assert_eq!(
            root_field(
                "query A { me { id } } query B { login { message } }",
                Some("B")
            )
            .as_deref(),
            Some("login")
        );
        assert_eq!(
            root_field(
                "{ ... { ...F } } fragment F on QueryRoot { sessions { id } }",
                None
            )
            .as_deref(),
            Some("sessions")
        );
        // Validation refuses these later; here they must only end.
        assert_eq!(
            root_field("{ ...A } fragment A on QueryRoot { ...A }", None),
            None
        );
        assert_eq!(root_field("{ ...Missing }", None), None);
        assert_eq!(
            root_field("query A { me { id } } query B { me { id } }", None),
            None
        );
    }

    #[test]
    fn long_operation_names_never_leave_the_document() {
        let long = "N".repeat(101);
        let doc = parse_query(format!("query {long} {{ me {{ id }} }}")).unwrap();
        assert_eq!(
            selected_operation(&doc, Some(&long)),
            Some((OperationType::Query, None))
        );
        let doc = parse_query("mutation Short { logout }").unwrap();
        assert_eq!(
            selected_operation(&doc, None),
            Some((OperationType::Mutation, Some("Short".to_owned())))
        );
    }
}
