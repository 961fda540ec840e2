//! Quiz LLM: a GraphQL API for LLM-generated quizzes, with cookie-based JWT login.
//!
//! [`Application::build`] wires configuration, store, mailer and schema into a server bound to
//! its address, so tests can start the whole thing in-process on port 0; [`Settings`] gathers
//! every subsystem's own settings into the one `serve` command it is built from.

pub mod auth;
pub mod config;
pub mod cpu;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod i18n;
pub mod llm;
pub mod mail;
pub mod quiz;
pub mod ratelimit;
pub mod store;
pub mod telemetry;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use clap::{Args, Command};
use poem::endpoint::BoxEndpoint;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::{AuthService, AuthSettings},
    domain::{SharedClock, SystemClock},
    graphql::{
        cookies::{CookiePolicy, CookieSettings},
        limits::QueryLimits,
        trusted::TrustedDocumentSettings,
    },
    http::{
        Draining, ServerSettings, server::ConnectionLimits, subscriptions::SubscriptionSettings,
    },
    llm::{LlmClient, LlmSettings},
    mail::{MailSettings, outbox::Outbox},
    quiz::{
        QuizService,
        jobs::GenerationSettings,
        materials::{MaterialService, UploadSettings},
    },
    ratelimit::Throttle,
    store::{Store, StoreSettings},
    telemetry::{TelemetrySettings, logging::LogFormat},
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

/// Every setting of `serve`, gathered from the subsystems that own them: each keeps its own
/// `…Settings` struct (variables, flags, defaults, checks) beside its code, as `auth` keeps
/// [`AuthSettings`] and `mail` keeps [`MailSettings`], and reads them with [`config::parse`].
/// The gathering lives here, at the crate root next to [`Application`], because it is the one
/// place that names every part anyway: as a module of its own it would depend on every room,
/// and inside `config` it would make the parsers every room uses depend on every room.
///
/// Each flag reads its environment variable when absent; values are checked once, at start-up,
/// so a typo stops the process with a clear message instead of surfacing later as a strange
/// runtime error. The help headings group them in `--help` and in the configuration reference.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten, next_help_heading = "HTTP server")]
    pub server: ServerSettings,
    #[command(flatten, next_help_heading = "Store")]
    pub store: StoreSettings,
    #[command(flatten, next_help_heading = "Accounts and sessions")]
    pub auth: AuthSettings,
    #[command(flatten, next_help_heading = "Cookies")]
    pub cookies: CookieSettings,
    #[command(flatten, next_help_heading = "E-mail")]
    pub mail: MailSettings,
    #[command(flatten, next_help_heading = "LLM")]
    pub llm: LlmSettings,
    #[command(flatten, next_help_heading = "Quiz generation and live updates")]
    pub generation: GenerationSettings,
    #[command(flatten, next_help_heading = "Study material uploads")]
    pub uploads: UploadSettings,
    #[command(flatten, next_help_heading = "GraphQL requests")]
    pub graphql: QueryLimits,
    #[command(flatten, next_help_heading = "Trusted documents")]
    pub trusted_documents: TrustedDocumentSettings,
    #[command(flatten, next_help_heading = "Logs, metrics and traces")]
    pub telemetry: TelemetrySettings,
    #[command(flatten, next_help_heading = "Subscriptions")]
    pub subscriptions: SubscriptionSettings,
    /// How log lines are written to standard output.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        help_heading = "Logs, metrics and traces"
    )]
    pub log_format: LogFormat,
    /// Mounts `GET /__test/panic`, whose handler panics, so tests can check what a panic turns
    /// into. No variable or flag sets it (only code that builds `Settings` can), so a server
    /// started from the command line never has the route.
    #[arg(skip)]
    pub panic_route_for_tests: bool,
}

impl Settings {
    /// What a bare `quiz-llm serve` uses with an empty environment.
    pub fn defaults() -> Self {
        config::parse::defaults()
    }

    /// The `serve` command as clap defines it (what `--help` and the configuration reference
    /// show).
    pub fn command() -> Command {
        Self::augment_args(Command::new("serve"))
    }

    /// The checks no single value's parser can make (and those on secrets, whose values must
    /// not appear in an error).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.auth.validate()?;
        self.mail.validate()?;
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::defaults()
    }
}

pub struct Application {
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    /// `GET /metrics` on its own listener, when `METRICS_ADDR` is set.
    metrics: Option<(TcpListener, BoxEndpoint<'static>)>,
    connections: ConnectionLimits,
    /// `SHUTDOWN_DRAIN`: how long to keep serving, unready, once shutdown begins.
    drain: Duration,
    draining: Draining,
    local_addr: SocketAddr,
    store: Arc<dyn Store>,
    outbox: Arc<Outbox>,
    quizzes: Arc<QuizService>,
    /// Ends open subscriptions when the server stops.
    shutdown: CancellationToken,
    housekeeping: Arc<auth::Housekeeping>,
    deferred_mail: tokio_util::task::TaskTracker,
}

/// The account service alone, on the store and mail settings `serve` uses, for the operator's
/// commands (`quiz-llm admin user …`): no listener and no background workers. Its mail is stored
/// in the outbox and tried once at once; a running server's outbox retries what failed.
pub async fn operator_auth(settings: &Settings) -> anyhow::Result<AuthService> {
    let clock: domain::SharedClock = Arc::new(SystemClock);
    install_crypto_provider();
    let store = store::connect_with(&settings.store.database_url, settings.store.options).await?;
    let mailer = mail::from_settings(&settings.mail).await?;
    let outbox = Arc::new(Outbox::new(
        store.clone(),
        mailer,
        settings.mail.mail_retry_base,
        clock.clone(),
    ));
    let throttle = Arc::new(Throttle::new(
        settings.auth.rate_limits.clone(),
        store.clone(),
        clock.clone(),
    ));
    AuthService::new(store, outbox, settings.auth.clone(), throttle, clock)
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
        let throttle = Arc::new(Throttle::new(
            settings.auth.rate_limits.clone(),
            store.clone(),
            clock.clone(),
        ));
        let auth = Arc::new(AuthService::new(
            store.clone(),
            outbox.clone(),
            settings.auth.clone(),
            throttle.clone(),
            clock.clone(),
        )?);
        let housekeeping = auth.housekeeping();
        let deferred_mail = auth.deferred_mail();
        tokio::spawn(auth.clone().purge_periodically());
        let streams = http::streams::Streams::new(
            &settings.subscriptions,
            settings.server.connections.max_connections,
            store.clone(),
            clock.clone(),
        );
        let quizzes = Arc::new(QuizService::new(
            store.clone(),
            LlmClient::from_settings(&settings.llm)?,
            throttle,
            &settings.generation,
            clock.clone(),
        ));
        let materials = Arc::new(MaterialService::new(
            store.clone(),
            &settings.uploads,
            clock.clone(),
        ));
        let limits = settings.graphql.clone();
        let draining = Draining::default();
        let active = graphql::ActiveSubscriptions::default();
        let schema = graphql::build_schema(
            auth.clone(),
            quizzes.clone(),
            materials,
            cookies.clone(),
            &limits,
            active.clone(),
        );
        let shutdown = CancellationToken::new();
        tokio::spawn(streams.clone().renew_periodically(shutdown.clone()));
        let http_state = http::HttpState {
            limits,
            upload_max_bytes: usize::try_from(settings.uploads.upload_max_bytes)
                .unwrap_or(usize::MAX),
            cookies,
            proxies: settings.server.trusted_proxies.clone(),
            parse_cache: Default::default(),
            trusted: Arc::new(graphql::trusted::TrustedDocuments::load(
                &settings.trusted_documents,
            )?),
            auth,
            panic_route: settings.panic_route_for_tests,
            draining: draining.clone(),
            subscriptions: settings.subscriptions.clone(),
            origins: Arc::new(http::websocket_origins(
                &settings.auth.public_url,
                &settings.server.cors_origins.0,
            )),
            slots: Default::default(),
            streams,
            shutdown: shutdown.clone(),
        };
        let endpoint = http::routes(
            schema,
            store.clone(),
            http_state,
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
        let metrics = match settings.telemetry.metrics_addr {
            Some(addr) => Some(metrics_listener(addr, store.clone(), active).await?),
            None => None,
        };
        Ok(Application {
            listener,
            endpoint,
            metrics,
            connections: settings.server.connections,
            drain: settings.server.shutdown_drain,
            draining,
            local_addr,
            store,
            outbox,
            quizzes,
            shutdown,
            housekeeping,
            deferred_mail,
        })
    }

    /// Runs the periodic clean-up (unverified accounts, idle guests) on demand.
    pub fn housekeeping(&self) -> Arc<auth::Housekeeping> {
        self.housekeeping.clone()
    }

    /// Link mails answered for but not yet queued; empty once each is in the outbox.
    pub fn deferred_mail(&self) -> tokio_util::task::TaskTracker {
        self.deferred_mail.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Where `/metrics` is served, when `METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Serves until `shutdown` resolves; then drains: `/readyz` answers 503 while requests are
    /// still served for the drain period, so a load balancer moves new work elsewhere first.
    /// Then it ends open subscriptions, stops accepting, lets in-flight requests finish and
    /// stops the background workers: the outbox (after the e-mail it is sending) and quiz
    /// generation (whose jobs go back to the queue for another process). Returns when all of it
    /// stopped, so nothing of this instance runs on afterwards.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        // Mail left over from a failed attempt or an earlier run is delivered in the background.
        let outbox = tokio::spawn(self.outbox.run(stop.clone()));
        let generation = tokio::spawn(self.quizzes.run_background(stop.clone()));
        // The metrics listener serves until the API has stopped.
        let metrics = self.metrics.map(|(listener, endpoint)| {
            let stopped = stop.clone();
            tokio::spawn(http::server::serve(
                listener,
                endpoint,
                self.connections,
                async move { stopped.cancelled().await },
                Duration::from_secs(1),
            ))
        });
        let (drain, draining) = (self.drain, self.draining);
        let subscriptions = self.shutdown.clone();
        let stop_accepting = async move {
            shutdown.await;
            draining.start();
            if !drain.is_zero() {
                tracing::info!(
                    drain = %humantime::format_duration(drain),
                    "draining: /readyz answers 503 while requests are still served"
                );
                tokio::time::sleep(drain).await;
            }
            // Sockets and multipart responses are not requests the grace period waits for.
            subscriptions.cancel();
            tracing::info!("no longer accepting connections; finishing in-flight requests");
        };
        let served = http::server::serve(
            self.listener,
            self.endpoint,
            self.connections,
            stop_accepting,
            SHUTDOWN_GRACE,
        )
        .await;
        // Link mails answered for are put in the outbox before it stops: none is lost.
        self.deferred_mail.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.deferred_mail.wait())
            .await
            .is_err()
        {
            tracing::warn!("link mails still being queued at shutdown were given up");
        }
        self.shutdown.cancel();
        stop.cancel();
        if let Err(err) = outbox.await {
            tracing::error!(error = %err, "the outbox worker failed");
        }
        if let Err(err) = generation.await {
            tracing::error!(error = %err, "the quiz generation workers failed");
        }
        if let Some(metrics) = metrics
            && let Ok(Err(err)) = metrics.await
        {
            tracing::error!(error = %err, "the metrics listener failed");
        }
        served
    }
}

/// Installs the Prometheus recorder and binds `METRICS_ADDR`; the outbox gauge is read from the
/// store and the subscription gauge from this application at each scrape.
async fn metrics_listener(
    addr: SocketAddr,
    store: Arc<dyn Store>,
    active: graphql::ActiveSubscriptions,
) -> anyhow::Result<(TcpListener, BoxEndpoint<'static>)> {
    let handle = telemetry::metrics::install().context("cannot install the metrics recorder")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (METRICS_ADDR)"))?;
    let local = listener
        .local_addr()
        .context("the metrics listener has no address")?;
    tracing::info!("metrics on http://{local}/metrics");
    let before_scrape: telemetry::metrics::BeforeScrape =
        Arc::new(move || {
            let (store, active) = (store.clone(), active.clone());
            Box::pin(async move {
                let pending =
                    match tokio::time::timeout(Duration::from_secs(2), store.count_pending_mail())
                        .await
                    {
                        Ok(Ok(pending)) => Some(pending),
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, "cannot count the pending e-mails");
                            None
                        }
                        Err(_) => {
                            tracing::warn!("counting the pending e-mails timed out");
                            None
                        }
                    };
                let set: Box<dyn FnOnce() + Send> = Box::new(move || {
                    if let Some(pending) = pending {
                        metrics::gauge!("mail_outbox_pending").set(pending as f64);
                    }
                    for (field, count) in active.counts() {
                        let field: &'static str = field.into();
                        metrics::gauge!("graphql_subscriptions_active", "root_field" => field)
                            .set(count as f64);
                    }
                });
                set
            })
        });
    use poem::EndpointExt;
    let endpoint = telemetry::metrics::endpoint(handle, before_scrape);
    Ok((listener, endpoint.map_to_response().boxed()))
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
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use clap::FromArgMatches;

    use super::*;
    use crate::config::ExposeSecret;

    #[test]
    fn secrets_are_trimmed_and_never_debug_printed() {
        let secrets = [
            "jwt-secret-jwt-secret-jwt-secret-1",
            "jwt-secret-jwt-secret-jwt-secret-0",
            "smtp://mailer:smtp-pass@mail.example",
            "sk-llm-api-key",
            "mongodb://app:mongo-pass@db.example/quiz",
        ];
        let cmd = Settings::augment_args(Command::new("t")).mut_args(|arg| arg.env(None));
        let matches = cmd
            .try_get_matches_from([
                "t",
                "--jwt-secret",
                &format!(" {} ", secrets[0]),
                "--jwt-previous-secrets",
                secrets[1],
                "--smtp-url",
                secrets[2],
                "--llm-api-key",
                secrets[3],
                "--database-url",
                secrets[4],
            ])
            .unwrap();
        let settings = Settings::from_arg_matches(&matches).unwrap();
        let jwt = settings.auth.jwt_secret.as_ref().unwrap();
        assert_eq!(jwt.expose_secret(), secrets[0]);
        let printed = format!("{settings:?}");
        for secret in ["jwt-secret", "smtp-pass", "sk-llm", "mongo-pass"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }
}
