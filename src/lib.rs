//! Quiz LLM: a GraphQL API for LLM-generated quizzes, with cookie-based JWT login.
//!
//! [`Application::build`] wires configuration, store, mailer and schema into a server bound to
//! its address, so tests can start the whole thing in-process on port 0.

pub mod auth;
pub mod config;
pub mod cpu;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod quiz;
pub mod settings;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::endpoint::BoxEndpoint;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::AuthService,
    config::Settings,
    domain::{SharedClock, SystemClock},
    graphql::cookies::CookiePolicy,
    http::server::ConnectionLimits,
    mail::outbox::Outbox,
    quiz::{QuizService, llm::LlmClient},
    store::Store,
};

/// rustls needs one process-wide crypto provider; ring is the one the MongoDB driver already
/// brings. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// In-flight requests get this long to finish after SIGINT/SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// What a test may supply instead of what the settings would build: the clock every service
/// reads (so a test moves time instead of sleeping) and the mailer (so a test reads e-mail from
/// memory instead of from files or an SMTP server).
#[derive(Default)]
pub struct Overrides {
    pub clock: Option<SharedClock>,
    pub mailer: Option<Arc<dyn mail::Mailer>>,
}

pub struct Application {
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    connections: ConnectionLimits,
    local_addr: SocketAddr,
    store: Arc<dyn Store>,
    outbox: Arc<Outbox>,
    quizzes: Arc<QuizService>,
    /// Ends open subscriptions when the server stops.
    shutdown: CancellationToken,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Overrides::default()).await
    }

    /// Like [`Application::build`], with the dependencies a test wants to hold itself.
    pub async fn build_with(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        let clock = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        install_crypto_provider();
        settings.validate()?;
        if settings.auth.jwt_secret.is_none() {
            tracing::warn!(
                "JWT_SECRET is not set: using a random key, so every restart logs everyone out"
            );
        }
        let store =
            store::connect_with(&settings.store.database_url, settings.store.options).await?;
        let mailer = match overrides.mailer {
            Some(mailer) => mailer,
            None => mail::from_settings(&settings.mail).await?,
        };
        let outbox = Arc::new(Outbox::new(
            store.clone(),
            mailer,
            settings.mail.mail_retry_base,
            clock.clone(),
        ));
        let cookies = CookiePolicy::new(&settings.cookies, &settings.auth);
        let auth = Arc::new(AuthService::new(
            store.clone(),
            outbox.clone(),
            settings.auth.clone(),
            clock.clone(),
        ));
        tokio::spawn(auth.clone().purge_unverified_periodically());
        let quizzes = Arc::new(QuizService::new(
            store.clone(),
            LlmClient::from_settings(&settings.llm)?,
            &settings.auth.rate_limits,
            &settings.generation,
            clock,
        ));
        let limits = settings.graphql.clone();
        let schema = graphql::build_schema(auth.clone(), quizzes.clone(), cookies.clone(), &limits);
        let shutdown = CancellationToken::new();
        let http_settings = http::HttpSettings {
            limits,
            cookies,
            proxies: settings.server.trusted_proxies.clone(),
            parse_cache: Default::default(),
            auth,
            panic_route: settings.panic_route_for_tests,
            subscriptions: settings.subscriptions.clone(),
            origins: Arc::new(http::websocket_origins(
                &settings.auth.public_url,
                &settings.server.cors_origins.0,
            )),
            slots: Default::default(),
            shutdown: shutdown.clone(),
        };
        let endpoint = http::routes(
            schema,
            store.clone(),
            http_settings,
            &settings.server.cors_origins.0,
        );
        let listen_addr = settings.server.listen_addr;
        let listener = TcpListener::bind(listen_addr)
            .await
            .with_context(|| format!("cannot listen on {listen_addr}"))?;
        let local_addr = listener
            .local_addr()
            .context("the listener has no socket address")?;
        tracing::info!(store = store.kind(), "listening on http://{local_addr}");
        Ok(Application {
            listener,
            endpoint,
            connections: settings.server.connections,
            local_addr,
            store,
            outbox,
            quizzes,
            shutdown,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish, ends open
    /// subscriptions, and stops the background workers: the outbox (after the e-mail it is
    /// sending) and quiz generation (whose jobs go back to the queue for another process).
    /// Returns when all of it stopped, so nothing of this instance runs on afterwards.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        // Mail left over from a failed attempt or an earlier run is delivered in the background.
        let outbox = tokio::spawn(self.outbox.run(stop.clone()));
        let generation = tokio::spawn(self.quizzes.run_background(stop.clone()));
        let subscriptions = self.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            // Sockets and multipart responses are not requests the grace period waits for.
            subscriptions.cancel();
        };
        let served = http::server::serve(
            self.listener,
            self.endpoint,
            self.connections,
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
        self.shutdown.cancel();
        stop.cancel();
        if let Err(err) = outbox.await {
            tracing::error!(error = %err, "the outbox worker failed");
        }
        if let Err(err) = generation.await {
            tracing::error!(error = %err, "the quiz generation workers failed");
        }
        served
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
