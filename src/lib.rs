//! Quiz LLM: a GraphQL API for LLM-generated quizzes, with cookie-based JWT login.
//!
//! [`Application::build`] wires configuration, store, mailer and schema into a server bound to
//! its address, so tests can start the whole thing in-process on port 0.

pub mod auth;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod quiz;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::{
    Server,
    endpoint::BoxEndpoint,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};

use crate::{
    auth::{AuthService, AuthSettings},
    config::Config,
    graphql::limits::QueryLimits,
    http::cookies::CookiePolicy,
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

pub struct Application {
    acceptor: TcpAcceptor,
    endpoint: BoxEndpoint<'static>,
    local_addr: SocketAddr,
    store: Arc<dyn Store>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        install_crypto_provider();
        if config.jwt_secret_generated {
            tracing::warn!(
                "JWT_SECRET is not set: using a random key, so every restart logs everyone out"
            );
        }
        let options = store::StoreOptions {
            timeout: config.database_timeout,
            pool_size: config.database_pool_size,
        };
        let store = store::connect_with(&config.database_url, options).await?;
        let mailer = mail::from_config(&config).await?;
        let outbox = Arc::new(Outbox::new(store.clone(), mailer, config.mail_retry_base));
        // Mail left over from a failed attempt or an earlier run is delivered in the background.
        tokio::spawn(outbox.clone().run());
        let auth = Arc::new(AuthService::new(
            store.clone(),
            outbox,
            &config.jwt_secret,
            &config.jwt_previous_secrets,
            AuthSettings::from(&config),
        ));
        let quizzes = Arc::new(QuizService::new(
            store.clone(),
            LlmClient::from_config(&config)?,
        ));
        let cookies = CookiePolicy::from(&config);
        let limits = QueryLimits::from(&config);
        let schema = graphql::build_schema(auth.clone(), quizzes, cookies.clone(), &limits);
        let settings = http::HttpSettings {
            limits,
            cookies,
            proxies: config.trusted_proxies.clone(),
            parse_cache: Default::default(),
            auth,
        };
        let endpoint = http::routes(schema, store.clone(), settings, &config.cors_origins);
        let acceptor = TcpListener::bind(config.listen_addr)
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {}", config.listen_addr))?;
        let local_addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("the listener has no socket address")?;
        tracing::info!(store = store.kind(), "listening on http://{local_addr}");
        Ok(Application {
            acceptor,
            endpoint,
            local_addr,
            store,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.endpoint, shutdown, Some(SHUTDOWN_GRACE))
            .await
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
