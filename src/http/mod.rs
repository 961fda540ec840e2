//! Routes and middleware.

pub mod client_address;
pub mod graphiql;
mod graphql;
mod pages;
mod parse_cache;
mod response;
pub mod server;
mod social;
pub mod streams;
pub mod subscriptions;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler,
    http::{HeaderValue, Method, StatusCode},
    middleware::{CatchPanic, Cors},
    web::Data,
};

pub use crate::graphql::cookies;
use crate::{
    auth::AuthService,
    domain::ErrorCode,
    graphql::{AppSchema, limits::QueryLimits, trusted::TrustedDocuments},
    store::Store,
};
use client_address::TrustedProxies;
use cookies::CookiePolicy;

/// How long `/readyz` waits for the store before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// A request-level failure in the GraphQL response shape, so clients parse one format.
pub(crate) fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    response::error(response::MediaType::Json, status, code, message)
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

/// Set once shutdown begins: `/readyz` then answers 503, so a load balancer stops sending new
/// work here, while requests are still served until the drain period (`SHUTDOWN_DRAIN`) ends.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[handler]
async fn readyz(store: Data<&Arc<dyn Store>>, http: Data<&HttpState>) -> Response {
    if http.draining.is_draining() {
        return "shutting down"
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response();
    }
    match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(err)) => {
            tracing::warn!(store = store.kind(), error = %err.chain(), "readiness check failed");
            "store unavailable"
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
        Err(_) => "store timed out"
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response(),
    }
}

/// Carries a request's id: kept from the client or proxy when it sent a plain one, so one id
/// follows a request through the proxies' logs and ours.
pub const X_REQUEST_ID: &str = "x-request-id";

/// An incoming id is kept only when it is short and plain: anything else could forge log lines
/// or bloat every one of them.
fn incoming_request_id(req: &Request) -> Option<&str> {
    let id = req.headers().get(X_REQUEST_ID)?.to_str().ok()?;
    let plain = (1..=128).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        });
    plain.then_some(id)
}

/// The longest path written to a log line or span as sent; longer ones are cut there.
const MAX_LOGGED_PATH: usize = 256;

/// The path as logged: a client picks it, so its length is bounded (paths are ASCII).
fn logged_path(path: &str) -> &str {
    path.get(..MAX_LOGGED_PATH).unwrap_or(path)
}

/// Gives every request an id (`X-Request-Id` on the response, a field of the `request` span that
/// every log line of the request carries) and logs method, path (never the query string: e-mail
/// links carry tokens there), status and time. A caller's `traceparent` is adopted only from a
/// trusted proxy: anyone else could pick the trace ids this server records under, and ask for
/// every request to be sampled.
async fn log_request<E: Endpoint>(
    next: E,
    req: Request,
    proxies: TrustedProxies,
) -> poem::Result<Response> {
    let request_id = match incoming_request_id(&req) {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    // At ERROR level, so the span is on whatever RUST_LOG lets through: a span's level is the
    // least severe level of event that still carries its fields.
    let span = tracing::error_span!("request", request_id = %request_id);
    let (method, path) = (
        method_label(req.method()),
        logged_path(req.uri().path()).to_owned(),
    );
    let traced = crate::telemetry::traces::enabled();
    if traced {
        let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
        if proxies.is_trusted(peer) {
            let _ = span.set_parent(crate::telemetry::traces::parent_context(req.headers()));
        }
        // The query string (tokens) never becomes an attribute.
        span.set_attribute("http.request.method", method);
        span.set_attribute("url.path", path.clone());
    }
    let started = Instant::now();
    let result = next
        .call(req)
        .instrument(span.clone())
        .await
        .map(IntoResponse::into_response);
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(err) => err.status(),
    };
    let elapsed = started.elapsed();
    if traced {
        span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    }
    if crate::telemetry::metrics::enabled() {
        crate::telemetry::metrics::record_request(method, status.as_u16(), elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            method,
            path,
            status = status.as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    let mut resp = result.unwrap_or_else(|err| err.into_response());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(resp)
}

/// The method as logs, spans and metrics carry it: methods outside the standard ones are
/// `other`, so a client cannot mint label values nor write long ones into every log line.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// `LISTEN_ADDR`, `TRUSTED_PROXIES`, `CORS_ORIGINS`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerSettings {
    /// Where to listen; port 0 picks a free one and logs it.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8000")]
    pub listen_addr: std::net::SocketAddr,
    /// Comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For and traceparent
    /// are believed; otherwise a request's client address is its TCP peer.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Comma-separated origins allowed to call with credentials (`*` is refused).
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: CorsOrigins,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still served, so load
    /// balancers take this process out of rotation before it stops accepting connections;
    /// `0` stops accepting at once.
    #[arg(long, env = "SHUTDOWN_DRAIN", default_value = "5s", value_parser = crate::config::parse::parse_duration_or_zero)]
    pub shutdown_drain: Duration,
    #[command(flatten)]
    pub connections: server::ConnectionLimits,
}

impl Default for ServerSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

/// Origins allowed to call with credentials; never `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsOrigins(pub Vec<String>);

impl std::str::FromStr for CorsOrigins {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let origins: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        for origin in &origins {
            if origin == "*" {
                return Err("cannot be `*`: credentials are only allowed for named origins".into());
            }
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(format!(
                    "entries must look like https://app.example.com, got {origin:?}"
                ));
            }
        }
        Ok(CorsOrigins(origins))
    }
}

/// What the HTTP layer needs to turn a request into a GraphQL call: services, caches and
/// shared counters built at start-up (state, not settings), handed to every handler.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub limits: QueryLimits,
    /// `UPLOAD_MAX_BYTES`: a multipart request body may be this much larger than other bodies.
    pub upload_max_bytes: usize,
    pub cookies: CookiePolicy,
    pub proxies: TrustedProxies,
    pub parse_cache: Arc<parse_cache::ParseCache>,
    /// The manifest of trusted documents and whether free text may run.
    pub trusted: Arc<TrustedDocuments>,
    /// Checks each request's access token before the operation runs.
    pub auth: Arc<AuthService>,
    /// Mounts the panicking test route (never set from the command line).
    pub panic_route: bool,
    /// Whether shutdown has begun (`/readyz` answers 503).
    pub draining: Draining,
    pub subscriptions: subscriptions::SubscriptionSettings,
    /// Origins whose pages may open a WebSocket: `PUBLIC_URL`'s and `CORS_ORIGINS`.
    pub origins: Arc<Vec<String>>,
    pub slots: Arc<subscriptions::SubscriptionSlots>,
    /// The caps on sockets and multipart responses, and their leases in the store.
    pub streams: Arc<streams::Streams>,
    /// Cancelled when the server stops: open subscriptions end.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// The origins a browser page may open a WebSocket from.
pub fn websocket_origins(public_url: &str, cors_origins: &[String]) -> Vec<String> {
    std::iter::once(public_url)
        .chain(cors_origins.iter().map(String::as_str))
        .map(subscriptions::origin_of)
        .collect()
}

/// `GET /`: a browser that opens the server's address lands in GraphiQL, whose first tabs walk
/// through this API.
#[handler]
fn front_door() -> poem::web::Redirect {
    poem::web::Redirect::see_other("/graphiql")
}

/// Where the panicking test route is mounted when it is turned on.
pub const PANIC_ROUTE: &str = "/__test/panic";

/// Panics on purpose, with a message that must stay on the server.
#[handler]
fn panic_for_tests() -> &'static str {
    panic!("deliberate panic for tests: this internal detail must not reach the client")
}

pub fn routes(
    schema: AppSchema,
    store: Arc<dyn Store>,
    state: HttpState,
    cors_origins: &[String],
) -> poem::endpoint::BoxEndpoint<'static> {
    graphiql::warn_if_not_embedded();
    let proxies = state.proxies.clone();
    let mut app = Route::new()
        .at("/", get(front_door))
        .at("/graphql", get(graphql::get).post(graphql::post))
        .at(
            "/graphiql",
            get(graphiql::page).with(pages::html_headers(&graphiql::csp())),
        )
        .at(graphiql::INIT_PATH, get(graphiql::init_script))
        .at("/graphiql/assets/:name", get(graphiql::serve_asset))
        .at(
            "/verify-email",
            get(pages::verify_email).with(pages::html_headers(&pages::verify_email_csp())),
        )
        .at(
            "/reset-password",
            get(pages::reset_password).with(pages::html_headers(&pages::reset_password_csp())),
        )
        .at("/auth/oidc/:provider/callback", get(social::callback))
        .at(
            "/sign-in-link",
            get(pages::sign_in_link)
                .post(pages::sign_in_with_link)
                .with(pages::sign_in_link_headers()),
        )
        .at(
            "/confirm-email-change",
            get(pages::confirm_email_change)
                .post(pages::confirm_email_change_now)
                .with(pages::sign_in_link_headers()),
        )
        .at(
            "/undo-email-change",
            get(pages::undo_email_change)
                .post(pages::undo_email_change_now)
                .with(pages::sign_in_link_headers()),
        )
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz));
    if state.panic_route {
        app = app.at(PANIC_ROUTE, get(panic_for_tests));
    }
    let app = app.data(schema).data(store).data(state).boxed();
    let app = if cors_origins.is_empty() {
        app
    } else {
        // WebSocket upgrades are not CORS requests: they check their origin themselves,
        // against PUBLIC_URL's as well as CORS_ORIGINS.
        let uncorsed = Arc::new(app);
        let for_upgrades = uncorsed.clone();
        uncorsed
            .with(
                Cors::new()
                    .allow_origins(cors_origins.iter().map(String::as_str))
                    .allow_credentials(true)
                    .allow_methods([Method::GET, Method::POST])
                    .allow_headers(["content-type", "authorization"])
                    .max_age(600),
            )
            .around(move |with_cors, req| {
                let for_upgrades = for_upgrades.clone();
                async move {
                    if req.headers().contains_key(poem::http::header::UPGRADE) {
                        for_upgrades.call(req).await
                    } else {
                        with_cors.call(req).await.map(IntoResponse::into_response)
                    }
                }
            })
            .boxed()
    };
    app.with(CatchPanic::new().with_handler(|_| {
        tracing::error!("a request handler panicked");
        error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "Internal error.",
        )
    }))
    .around(move |next, req| log_request(next, req, proxies.clone()))
    .boxed()
}
