//! Routes and middleware.

pub mod client;
mod graphql;
mod pages;
mod parse_cache;
pub mod server;
pub mod subscriptions;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler,
    http::{Method, StatusCode},
    middleware::{CatchPanic, Cors},
    web::{Data, Json},
};

pub use crate::graphql::cookies;
use crate::{
    auth::AuthService,
    domain::ErrorCode,
    graphql::{AppSchema, limits::QueryLimits},
    store::Store,
};
use client::TrustedProxies;
use cookies::CookiePolicy;

/// How long `/readyz` waits for the store before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// A request-level failure in the GraphQL response shape, so clients parse one format.
pub(crate) fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    Json(body).with_status(status).into_response()
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(store: Data<&Arc<dyn Store>>) -> Response {
    match tokio::time::timeout(READY_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(err)) => {
            tracing::warn!(store = store.kind(), error = %err, "readiness check failed");
            "store unavailable"
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
        Err(_) => "store timed out"
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response(),
    }
}

/// Logs method, path (never the query string: e-mail links carry tokens there), status and time.
async fn log_request<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let result = next.call(req).await.map(IntoResponse::into_response);
    let status = match &result {
        Ok(resp) => resp.status(),
        Err(err) => err.status(),
    };
    tracing::info!(
        %method,
        path,
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    result
}

/// `LISTEN_ADDR`, `TRUSTED_PROXIES`, `CORS_ORIGINS`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerSettings {
    /// Where to listen; port 0 picks a free one.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8000")]
    pub listen_addr: std::net::SocketAddr,
    /// Comma-separated proxy addresses or CIDR ranges whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
    /// Comma-separated origins allowed to call with credentials.
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: CorsOrigins,
    #[command(flatten)]
    pub connections: server::ConnectionLimits,
}

impl Default for ServerSettings {
    fn default() -> Self {
        crate::settings::defaults()
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

/// What the HTTP layer needs to turn a request into a GraphQL call.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub limits: QueryLimits,
    pub cookies: CookiePolicy,
    pub proxies: TrustedProxies,
    pub parse_cache: Arc<parse_cache::ParseCache>,
    /// Checks each request's access token before the operation runs.
    pub auth: Arc<AuthService>,
    /// Mounts the panicking test route (never set from the command line).
    pub panic_route: bool,
    pub subscriptions: subscriptions::SubscriptionSettings,
    /// Origins whose pages may open a WebSocket: `PUBLIC_URL`'s and `CORS_ORIGINS`.
    pub origins: Arc<Vec<String>>,
    pub slots: Arc<subscriptions::SubscriptionSlots>,
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
    settings: HttpSettings,
    cors_origins: &[String],
) -> poem::endpoint::BoxEndpoint<'static> {
    let mut app = Route::new()
        .at("/graphql", get(graphql::get).post(graphql::post))
        .at(
            "/graphiql",
            get(pages::graphiql).with(pages::html_headers(pages::GRAPHIQL_CSP)),
        )
        .at(
            "/verify-email",
            get(pages::verify_email).with(pages::html_headers(&pages::verify_email_csp())),
        )
        .at(
            "/reset-password",
            get(pages::reset_password).with(pages::html_headers(&pages::reset_password_csp())),
        )
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz));
    if settings.panic_route {
        app = app.at(PANIC_ROUTE, get(panic_for_tests));
    }
    let app = app.data(schema).data(store).data(settings).boxed();
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
    .around(log_request)
    .boxed()
}
