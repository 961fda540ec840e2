//! GraphQL subscriptions: over a WebSocket upgrade of `/graphql` itself (`graphql-transport-ws`,
//! and the legacy `graphql-ws`), and over HTTP as a multipart response to `POST /graphql` with
//! `Accept: multipart/mixed;subscriptionSpec="1.0"` (Apollo Client's protocol).
//!
//! A connection lives as long as its session: it is checked every second, and once the session
//! was logged out, revoked, ended by a password change or ran out (absolutely or idle), a socket
//! is closed with 4401 and a multipart response ends with a `SESSION_EXPIRED` error. Sockets
//! authenticate with the access cookie of the upgrade (or its `Authorization` header) or the
//! `connection_init` payload `{ "authorization": "Bearer …" }`; a browser's upgrade from an
//! origin that is neither `PUBLIC_URL`'s nor in `CORS_ORIGINS` is refused, since browsers send
//! cookies on cross-site WebSocket upgrades and CORS does not apply to them. Every operation on
//! a socket goes through what an HTTP request does (trusted documents, query limits, the
//! access token's expiry); subscriptions are limited per connection and per user (on each
//! process), sockets and multipart responses by the stream caps ([`super::streams`]), and a
//! socket that runs nothing for `WS_IDLE_TIMEOUT` is closed.

use std::{
    collections::HashMap,
    future::{Future, ready},
    pin::Pin,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_graphql::{
    Data, ErrorExtensions, Executor, Response,
    http::{ALL_WEBSOCKET_PROTOCOLS, ClientMessage, WebSocketProtocols, WsMessage},
};
use futures_util::{
    SinkExt, StreamExt,
    future::{BoxFuture, FutureExt},
    stream::{self, BoxStream},
};
use poem::{
    Body, IntoResponse, Request,
    http::{HeaderValue, StatusCode, header},
    web::websocket::{Message, WebSocket, WebSocketConfig, WebSocketStream},
};
use serde_json::Value;
use tokio::time::Instant;

use super::{
    HttpState,
    graphql::{DocumentId, Untrusted, limits_refusal, resolve_trusted},
    response::MediaType,
    streams::Lease,
};
use crate::{
    auth::{AuthService, Claims},
    domain::{self, AppError, ErrorCode, Locale, MessageKey, UserId},
    graphql::{
        AppSchema,
        context::RequestAuth,
        error::{Reader, VariableStrings, coded_error, ensure_codes, localize, render_errors},
    },
    i18n,
};

/// `SUBSCRIPTIONS_*` and `WS_*`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubscriptionSettings {
    /// Subscriptions one WebSocket connection may run at once.
    #[arg(long, env = "SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 20)]
    pub subscriptions_per_connection: usize,
    /// Subscriptions one user may run at once on one server process (all connections and
    /// multipart responses together).
    #[arg(long, env = "SUBSCRIPTIONS_PER_USER", default_value_t = 100)]
    pub subscriptions_per_user: usize,
    /// A WebSocket must send `connection_init` this soon after it opened, or is closed (4408).
    #[arg(long, env = "WS_CONNECTION_INIT_TIMEOUT", default_value = "10s", value_parser = crate::config::parse::parse_duration)]
    pub ws_connection_init_timeout: Duration,
    /// How often an open connection is pinged (`ping`, or `ka` on the legacy protocol; a
    /// heartbeat part on multipart responses). A `graphql-transport-ws` client silent for three
    /// of these is closed (3008).
    #[arg(long, env = "WS_KEEPALIVE_INTERVAL", default_value = "15s", value_parser = crate::config::parse::parse_duration)]
    pub ws_keepalive_interval: Duration,
    /// Sockets and multipart responses one user may hold open at once, across all server
    /// processes sharing the store.
    #[arg(long, env = "STREAMS_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub streams_per_user: u32,
    /// Sockets and multipart responses one client address may hold open at once on one server
    /// process.
    #[arg(long, env = "STREAMS_PER_ADDRESS", default_value_t = 64, value_parser = parse_per_address)]
    pub streams_per_address: usize,
    /// The share (above 0, below 1) of `HTTP_MAX_CONNECTIONS` that sockets and multipart
    /// responses may take together on one process; the rest stays free for plain requests.
    #[arg(long, env = "STREAMS_CONNECTION_SHARE", default_value_t = 0.75, value_parser = parse_share)]
    pub streams_connection_share: f64,
    /// A socket that runs no subscription and starts no operation for this long is closed
    /// (1000, `Idle`); pings, pongs and keep-alives do not count as activity.
    #[arg(long, env = "WS_IDLE_TIMEOUT", default_value = "60s", value_parser = crate::config::parse::parse_duration)]
    pub ws_idle_timeout: Duration,
    /// How long a stream's lease in the store lasts unless its process renews it (every third
    /// of it). Not a setting.
    #[arg(skip = Duration::from_secs(60))]
    pub stream_lease_ttl: Duration,
    /// How often a connection checks that its session still goes on; a session ended on
    /// another process shows up within `SESSION_CACHE_TTL` more. Not a setting: tests shorten it.
    #[arg(skip = Duration::from_secs(1))]
    pub session_check_interval: Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

fn parse_per_address(s: &str) -> Result<usize, String> {
    crate::config::parse::parse_count(s, 1..=usize::MAX)
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(share) if share > 0.0 && share < 1.0 => Ok(share),
        _ => Err(format!(
            "must be a fraction above 0 and below 1 (plain requests keep the rest), got {s:?}"
        )),
    }
}

/// Per connection, in bytes: idle sockets are most of what a subscription server holds.
const SOCKET_READ_BUFFER: usize = 4 * 1024;

/// The subscriptions each user runs on this process.
#[derive(Debug, Default)]
pub struct SubscriptionSlots {
    per_user: Mutex<HashMap<UserId, usize>>,
}

/// One running subscription of a user; gives its slot back when dropped.
struct Slot {
    slots: Arc<SubscriptionSlots>,
    user: UserId,
}

impl SubscriptionSlots {
    fn take(self: &Arc<Self>, user: &UserId, max: usize) -> Option<Slot> {
        let mut per_user = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_user.entry(user.clone()).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            slots: self.clone(),
            user: user.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_user = self
            .slots
            .per_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

/// The origin (`scheme://host[:port]`) of a URL.
pub(super) fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let end = url[host_start..]
        .find('/')
        .map_or(url.len(), |i| host_start + i);
    url[..end].to_ascii_lowercase()
}

/// Browsers always send `Origin` on a WebSocket upgrade; a request without one comes from a
/// program, which holds no one else's cookies.
fn origin_allowed(req: &Request, http: &HttpState) -> bool {
    match req.headers().get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|origin| {
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            http.origins.contains(&origin)
        }),
    }
}

/// Whether a POST asks for a multipart subscription response (`subscriptionSpec="1.0"`).
pub(super) fn wants_multipart(req: &Request) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        parts
            .next()
            .is_some_and(|media| media.eq_ignore_ascii_case("multipart/mixed"))
            && parts.any(|param| {
                param.split_once('=').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("subscriptionSpec")
                        && value.trim().trim_matches('"') == "1.0"
                })
            })
    })
}

fn limit_error(limit: &'static str, message: domain::Message, locale: Locale) -> Response {
    let error =
        coded_error(ErrorCode::BadUserInput, message).extend_with(|_, ext| ext.set("limit", limit));
    render_errors(
        Response::from_errors(vec![error.into_server_error(Default::default())]),
        locale,
    )
}

fn error_response(err: AppError) -> Response {
    let err: async_graphql::Error = err.into();
    Response::from_errors(vec![err.into_server_error(Default::default())])
}

/// Resolves once the session behind `claims` has ended (checked every `every`). While
/// the store cannot answer, the connection stays: dropping every socket on a database hiccup
/// would only bring them all back at once.
async fn session_ended(auth: Arc<AuthService>, claims: Claims, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match auth.session_alive(&claims).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::warn!(error = ?err, "could not check a subscriber's session");
            }
        }
    }
}

/// A multipart part: the boundary before it (the first) or the line break after the previous
/// one's boundary, its header, its JSON, and its closing boundary at once, so a client can hand
/// the part on without waiting for the next.
fn part(first: bool, json: &Value) -> bytes::Bytes {
    let lead = if first { "\r\n--graphql\r\n" } else { "\r\n" };
    format!("{lead}content-type: application/json\r\n\r\n{json}\r\n--graphql").into()
}

/// The multipart subscription protocol: `{"payload": result}` per result, `{}` as a heartbeat
/// when idle, `{"payload": null, "errors": [...]}` when the transport ends it (`stop`).
///
/// Hand-written because async-graphql's own framing (7.2,
/// `http::create_multipart_mixed_stream`) cannot do two things this needs. It writes each
/// `Response` bare, without the `{"payload": …}` envelope Apollo's protocol gives subscription
/// results, and takes nothing but the responses: so an ending the transport decides (the
/// session's `SESSION_EXPIRED`, the server shutting down) could only be a result with errors,
/// not the `{"payload": null, "errors": […]}` that tells a client the transport ended it. And it
/// writes a part's closing boundary only when the next part starts, so a client that hands a
/// part on once its boundary arrives (Apollo Client does) would hold every event back until the
/// next event or heartbeat.
fn multipart_body(
    responses: BoxStream<'static, Response>,
    stop: BoxFuture<'static, AppError>,
    heartbeat: Duration,
) -> BoxStream<'static, bytes::Bytes> {
    struct State {
        responses: BoxStream<'static, Response>,
        stop: BoxFuture<'static, AppError>,
        heartbeat: tokio::time::Interval,
        first: bool,
        stopped: bool,
        ended: bool,
    }
    let mut ticks = tokio::time::interval(heartbeat);
    ticks.reset();
    let state = State {
        responses,
        stop,
        heartbeat: ticks,
        first: true,
        stopped: false,
        ended: false,
    };
    stream::unfold(state, |mut s| async move {
        if s.ended {
            return None;
        }
        let json = tokio::select! {
            next = s.responses.next() => match next {
                Some(response) => {
                    let response = serde_json::to_value(&response).unwrap_or(Value::Null);
                    serde_json::json!({ "payload": response })
                }
                None => {
                    s.ended = true;
                    let end = if s.first { "\r\n--graphql--\r\n" } else { "--\r\n" };
                    return Some((bytes::Bytes::from(end), s));
                }
            },
            err = &mut s.stop, if !s.stopped => {
                s.stopped = true;
                let error = serde_json::json!({
                    "message": crate::i18n::render(crate::domain::Locale::En, &err.message()),
                    "extensions": { "code": err.code().as_str() },
                });
                // The closing boundary follows as the next (and last) piece.
                s.responses = stream::empty().boxed();
                serde_json::json!({ "payload": null, "errors": [error] })
            }
            _ = s.heartbeat.tick() => serde_json::json!({}),
        };
        let bytes = part(s.first, &json);
        s.first = false;
        Some((bytes, s))
    })
    .boxed()
}

/// Runs a subscription as a multipart response: each result is a part, a heartbeat part every
/// `WS_KEEPALIVE_INTERVAL` keeps proxies from cutting it, and it ends with the subscription,
/// the session, or the server. It counts as a stream against the caps (see [`super::streams`]).
pub(super) async fn multipart(
    schema: &AppSchema,
    http: &HttpState,
    media: MediaType,
    gql: async_graphql::Request,
    auth: RequestAuth,
) -> poem::Response {
    let locale = Locale::resolve(None, auth.client().locale);
    let admitted = match http.streams.admit(auth.client().ip) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.response(media, locale),
    };
    let claims = auth.caller().ok().flatten().cloned();
    let mut held = None;
    if let Some(claims) = &claims {
        let lease = match http.streams.lease(&claims.sub).await {
            Ok(lease) => lease,
            Err(refused) => return refused.response(media, locale),
        };
        let per_user = http.subscriptions.subscriptions_per_user;
        let Some(slot) = http.slots.take(&claims.sub, per_user) else {
            let refused = limit_error(
                "subscriptionsPerUser",
                domain::Message::new(MessageKey::SubscriptionsPerUser).with("max", per_user),
                locale,
            );
            return async_graphql_poem::GraphQLResponse(refused).into_response();
        };
        held = Some((lease, slot));
    }
    let reader = Reader {
        user: claims.as_ref().map(|c| c.sub.clone()),
        accept_language: auth.client().locale,
    };
    let variables = VariableStrings::of(&gql.variables);
    let responses = in_readers_language(
        schema.execute_stream(gql.data(auth)),
        variables,
        reader,
        http.auth.clone(),
    )
    .map(move |r| {
        let _held = (&admitted, &held);
        r
    })
    .boxed();
    let shutdown = http.shutdown.clone();
    let stop: BoxFuture<'static, AppError> = match claims {
        Some(claims) => {
            let ended = session_ended(
                http.auth.clone(),
                claims,
                http.subscriptions.session_check_interval,
            );
            async move {
                tokio::select! {
                    () = ended => AppError::SessionExpired,
                    () = shutdown.cancelled() => shutting_down(),
                }
            }
            .boxed()
        }
        None => async move {
            shutdown.cancelled().await;
            shutting_down()
        }
        .boxed(),
    };
    let body = multipart_body(responses, stop, http.subscriptions.ws_keepalive_interval)
        .map(Ok::<_, std::io::Error>);
    let mut resp = Body::from_bytes_stream(body).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("multipart/mixed; boundary=\"graphql\"; subscriptionSpec=\"1.0\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A subscription's responses with the documented codes, in the reader's language.
fn in_readers_language(
    responses: impl futures_util::Stream<Item = Response> + Send + 'static,
    variables: VariableStrings,
    reader: Reader,
    auth: Arc<AuthService>,
) -> impl futures_util::Stream<Item = Response> + Send + 'static {
    let (variables, reader) = (Arc::new(variables), Arc::new(reader));
    responses.then(move |response| {
        let (variables, reader, auth) = (variables.clone(), reader.clone(), auth.clone());
        async move { localize(ensure_codes(response, &variables), &reader, &auth).await }
    })
}

fn shutting_down() -> AppError {
    AppError::internal(anyhow::anyhow!("the server is shutting down"))
}

/// What one WebSocket connection knows about its caller, settled by `connection_init`, and how
/// busy it is.
struct SocketState {
    auth: OnceLock<RequestAuth>,
    /// Set when `connection_init` was refused: the close code, and the error code its reason
    /// names.
    refused: OnceLock<(u16, ErrorCode)>,
    /// The socket's lease on the user's streams, taken at `connection_init`.
    lease: Mutex<Option<Lease>>,
    running: AtomicUsize,
    /// When the client last did something other than ping or pong, or a subscription ended.
    last_active: Mutex<Instant>,
}

impl SocketState {
    fn new() -> Self {
        SocketState {
            auth: OnceLock::new(),
            refused: OnceLock::new(),
            lease: Mutex::new(None),
            running: AtomicUsize::new(0),
            last_active: Mutex::new(Instant::now()),
        }
    }

    fn touch(&self) {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    /// When the socket counts as silent, unless something happens first.
    fn idle_deadline(&self, idle: Duration) -> Instant {
        *self.last_active.lock().unwrap_or_else(|e| e.into_inner()) + idle
    }
}

/// Counts a connection's running operation while alive; its end is activity.
struct Running(Arc<SocketState>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A `documentId` sent beside the payload of a subscribe message, where async-graphql's
/// request has no field for it.
struct NamedDocument(String);

/// Reads a client message, noting activity (anything but ping and pong) and a subscribe
/// payload's `documentId` (looked for only when the payload has no text, as over HTTP).
fn client_message(raw: &[u8], state: &SocketState) -> serde_json::Result<ClientMessage> {
    let message = ClientMessage::from_bytes(raw)?;
    Ok(match message {
        ClientMessage::Ping { .. } | ClientMessage::Pong { .. } => message,
        ClientMessage::Start { id, mut payload } => {
            state.touch();
            #[derive(serde::Deserialize)]
            struct Raw {
                payload: DocumentId,
            }
            if payload.query.is_empty()
                && let Ok(Raw {
                    payload:
                        DocumentId {
                            document_id: Some(document_id),
                        },
                }) = serde_json::from_slice(raw)
            {
                payload.data.insert(NamedDocument(document_id));
            }
            ClientMessage::Start { id, payload }
        }
        other => {
            state.touch();
            other
        }
    })
}

/// The schema as one connection sees it: each operation resolved and checked as over HTTP
/// (trusted documents, query limits), authenticated again (a token that expired since
/// `connection_init` gets `TOKEN_EXPIRED`; running subscriptions live on with the session),
/// held to the subscription limits, and run as the connection's caller.
#[derive(Clone)]
struct SocketExecutor {
    schema: AppSchema,
    http: HttpState,
    state: Arc<SocketState>,
    /// The upgrade request's `Accept-Language`.
    accept_language: Option<Locale>,
}

impl SocketExecutor {
    /// What runs at once, in the order operations arrive: the document's checks and the
    /// connection's limit. The rest waits for the caller's token to be checked again.
    fn run(&self, mut request: async_graphql::Request) -> BoxStream<'static, Response> {
        let locale = Locale::resolve(None, self.accept_language);
        let once =
            |response: Response| stream::once(ready(render_errors(response, locale))).boxed();
        let document_id = request
            .data
            .get(&std::any::TypeId::of::<NamedDocument>())
            .and_then(|named| named.downcast_ref::<NamedDocument>())
            .map(|named| named.0.clone());
        match resolve_trusted(&self.http, &mut request, document_id.as_deref()) {
            Ok(_) => {}
            Err(Untrusted::NoQuery) => {
                return once(error_response(AppError::bad_input(
                    "query",
                    crate::domain::MessageKey::NoQuery,
                )));
            }
            Err(Untrusted::Refused(refused)) => return once(Response::from_errors(vec![refused])),
        }
        if let Some(refused) = limits_refusal(&self.http, &mut request) {
            return once(refused);
        }
        let Some(accepted) = self.state.auth.get().cloned() else {
            return once(error_response(AppError::Unauthenticated));
        };
        let per_connection = self.http.subscriptions.subscriptions_per_connection;
        if self.state.running.fetch_add(1, Ordering::Relaxed) >= per_connection {
            self.state.running.fetch_sub(1, Ordering::Relaxed);
            return once(limit_error(
                "subscriptionsPerConnection",
                domain::Message::new(MessageKey::SubscriptionsPerConnection)
                    .with("max", per_connection),
                locale,
            ));
        }
        let running = Running(self.state.clone());
        stream::once(self.clone().run_as_caller(request, accepted, running))
            .flatten()
            .boxed()
    }

    async fn run_as_caller(
        self,
        request: async_graphql::Request,
        accepted: RequestAuth,
        running: Running,
    ) -> BoxStream<'static, Response> {
        let locale = Locale::resolve(None, self.accept_language);
        let once =
            |response: Response| stream::once(ready(render_errors(response, locale))).boxed();
        let auth = RequestAuth::check(
            accepted.access_token().map(str::to_owned),
            accepted.client().clone(),
            &self.http.auth,
        )
        .await;
        let claims = match auth.caller() {
            Ok(Some(claims)) => claims.clone(),
            Ok(None) => return once(error_response(AppError::Unauthenticated)),
            Err(err) => return once(error_response(err)),
        };
        let per_user = self.http.subscriptions.subscriptions_per_user;
        let Some(slot) = self.http.slots.take(&claims.sub, per_user) else {
            return once(limit_error(
                "subscriptionsPerUser",
                domain::Message::new(MessageKey::SubscriptionsPerUser).with("max", per_user),
                locale,
            ));
        };
        let reader = Reader {
            user: Some(claims.sub.clone()),
            accept_language: self.accept_language,
        };
        let variables = VariableStrings::of(&request.variables);
        in_readers_language(
            self.schema.execute_stream(request.data(auth)),
            variables,
            reader,
            self.http.auth.clone(),
        )
        .map(move |response| {
            let _held = (&running, &slot);
            response
        })
        .boxed()
    }
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: async_graphql::Request) -> Response {
        self.run(request).next().await.unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        _: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        self.run(request)
    }
}

/// The token a `connection_init` payload carries, if any: `authorization` (or
/// `Authorization`), with or without `Bearer `.
fn payload_token(payload: &Value) -> Option<String> {
    let value = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))?
        .as_str()?
        .trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// Accepts a WebSocket upgrade of `/graphql` for subscriptions.
pub(super) async fn upgrade(
    req: &Request,
    websocket: WebSocket,
    schema: &AppSchema,
    http: &HttpState,
) -> poem::Response {
    let locale = super::graphql::browser_locale(req);
    let said = |key: MessageKey| i18n::render(locale, &key.into());
    if !origin_allowed(req, http) {
        return super::error_response(
            StatusCode::FORBIDDEN,
            ErrorCode::Unauthenticated,
            &said(MessageKey::WebsocketOrigin),
        );
    }
    let protocol = req
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        });
    let Some(protocol) = protocol else {
        return super::error_response(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            &said(MessageKey::WebsocketProtocol),
        );
    };
    let upgrade_auth = super::graphql::request_auth(req, http).await;
    let admitted = match http.streams.admit(upgrade_auth.client().ip) {
        Ok(admitted) => admitted,
        Err(refused) => return refused.response(MediaType::of(req), locale),
    };
    let max_bytes = http.limits.max_body_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(max_bytes))
        .max_frame_size(Some(max_bytes));
    let (schema, http) = (schema.clone(), http.clone());
    websocket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .config(config)
        .on_upgrade(move |socket| async move {
            serve_socket(socket, protocol, schema, http, upgrade_auth).await;
            drop(admitted);
        })
        .into_response()
}

type SessionEnd = Pin<Box<dyn Future<Output = ()> + Send>>;

async fn serve_socket(
    socket: WebSocketStream,
    protocol: WebSocketProtocols,
    schema: AppSchema,
    http: HttpState,
    upgrade_auth: RequestAuth,
) {
    let state = Arc::new(SocketState::new());
    let accept_language = upgrade_auth.client().locale;
    let (mut sink, incoming) = socket.split();
    let incoming = {
        let state = state.clone();
        incoming
            .take_while(|m| std::future::ready(m.is_ok()))
            .filter_map(|m| {
                std::future::ready(match m {
                    Ok(Message::Text(text)) => Some(text.into_bytes()),
                    Ok(Message::Binary(bytes)) => Some(bytes),
                    _ => None,
                })
            })
            .map(move |raw| client_message(&raw, &state))
    };
    let init = {
        let (state, http) = (state.clone(), http.clone());
        move |payload: Value| async move {
            let auth = match payload_token(&payload) {
                Some(token) => {
                    RequestAuth::check(Some(token), upgrade_auth.client().clone(), &http.auth).await
                }
                None => upgrade_auth,
            };
            let refused = match auth.caller() {
                Ok(Some(claims)) => match http.streams.lease(&claims.sub).await {
                    Ok(lease) => {
                        *state.lease.lock().unwrap_or_else(|e| e.into_inner()) = Some(lease);
                        None
                    }
                    Err(refused) => Some(refused.close()),
                },
                Ok(None) => Some((4401, ErrorCode::Unauthenticated)),
                Err(err) => Some((4401, err.code())),
            };
            match refused {
                None => {
                    state.touch();
                    let _ = state.auth.set(auth);
                    Ok(Data::default())
                }
                Some((close, code)) => {
                    let _ = state.refused.set((close, code));
                    Err(async_graphql::Error::new(code.as_str()))
                }
            }
        }
    };
    let settings = &http.subscriptions;
    let (keepalive, idle) = (settings.ws_keepalive_interval, settings.ws_idle_timeout);
    let executor = SocketExecutor {
        schema,
        http: http.clone(),
        state: state.clone(),
        accept_language,
    };
    let mut messages =
        async_graphql::http::WebSocket::from_message_stream(executor, incoming, protocol)
            .on_connection_init(init)
            .keepalive_timeout((protocol == WebSocketProtocols::GraphQLWS).then(|| keepalive * 3));
    let init_deadline = tokio::time::sleep(settings.ws_connection_init_timeout);
    tokio::pin!(init_deadline);
    let mut pings = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
    let ping = match protocol {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut session_end: Option<SessionEnd> = None;
    let unauthorized = |code: ErrorCode| Some((4401, code.as_str().to_owned()));
    let close: Option<(u16, String)> = loop {
        let accepted = state.auth.get();
        if session_end.is_none()
            && let Some(Ok(Some(claims))) = accepted.map(RequestAuth::caller)
        {
            session_end = Some(Box::pin(session_ended(
                http.auth.clone(),
                claims.clone(),
                settings.session_check_interval,
            )));
        }
        // Nothing running: the socket is silent once its last activity is `idle` ago.
        let quiet = accepted.is_some() && state.running.load(Ordering::Relaxed) == 0;
        tokio::select! {
            out = messages.next() => {
                if let Some(&(close, code)) = state.refused.get() {
                    break Some((close, code.as_str().to_owned()));
                }
                match out {
                    None => break None,
                    Some(WsMessage::Text(text)) => {
                        if sink.send(Message::text(text)).await.is_err() {
                            break None;
                        }
                    }
                    // A subscribe before the handshake: graphql-ws says 4401.
                    Some(WsMessage::Close(1011, _)) => break unauthorized(ErrorCode::Unauthenticated),
                    Some(WsMessage::Close(code, reason)) => break Some((code, reason)),
                }
            }
            () = &mut init_deadline, if accepted.is_none() => {
                break Some((4408, "Connection initialisation timeout".into()));
            }
            () = tokio::time::sleep_until(state.idle_deadline(idle)), if quiet => {
                if state.running.load(Ordering::Relaxed) == 0
                    && Instant::now() >= state.idle_deadline(idle)
                {
                    break Some((1000, "Idle".into()));
                }
            }
            _ = pings.tick(), if accepted.is_some() => {
                if sink.send(Message::text(ping)).await.is_err() {
                    break None;
                }
            }
            () = async { session_end.as_mut().expect("guarded").await }, if session_end.is_some() => {
                break unauthorized(ErrorCode::SessionExpired);
            }
            () = http.shutdown.cancelled() => break Some((1001, "The server is shutting down".into())),
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink.send(Message::close_with(code, reason)).await;
    }
    let _ = sink.close().await;
    // The lease goes back as soon as the socket is closed, not when its last clone of the
    // state goes.
    drop(state.lease.lock().unwrap_or_else(|e| e.into_inner()).take());
}
