//! Routes and middleware.

pub mod client;
pub mod cookies;
mod graphql;
mod pages;
mod parse_cache;

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

use crate::{
    auth::AuthService,
    error::ErrorCode,
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

/// What the HTTP layer needs to turn a request into a GraphQL call.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub limits: QueryLimits,
    pub cookies: CookiePolicy,
    pub proxies: TrustedProxies,
    pub parse_cache: Arc<parse_cache::ParseCache>,
    /// Checks each request's access token before the operation runs.
    pub auth: Arc<AuthService>,
}

pub fn routes(
    schema: AppSchema,
    store: Arc<dyn Store>,
    settings: HttpSettings,
    cors_origins: &[String],
) -> poem::endpoint::BoxEndpoint<'static> {
    let app = Route::new()
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
        .at("/readyz", get(readyz))
        .data(schema)
        .data(store)
        .data(settings);
    let app = if cors_origins.is_empty() {
        app.boxed()
    } else {
        app.with(
            Cors::new()
                .allow_origins(cors_origins.iter().map(String::as_str))
                .allow_credentials(true)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(["content-type", "authorization"])
                .max_age(600),
        )
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
