//! All settings, gathered from the subsystems that own them. Every variable has a `serve --flag`
//! twin and its default next to its definition; values are checked once, at start-up, so a typo
//! stops the process with a clear message instead of surfacing later as a strange runtime error.

use clap::Args;

use crate::{
    auth::AuthSettings, graphql::cookies::CookieSettings, graphql::limits::QueryLimits,
    graphql::trusted::TrustedDocumentSettings, http::ServerSettings,
    http::subscriptions::SubscriptionSettings, mail::MailSettings, quiz::jobs::GenerationSettings,
    quiz::llm::LlmSettings, store::StoreSettings, telemetry::TelemetrySettings,
};

pub use crate::telemetry::logging::LogFormat;

pub use crate::store::DatabaseUrl;
/// Secrets in settings: `Debug` redacts them and they are wiped from memory when dropped.
pub use secrecy::{ExposeSecret, SecretString};

/// The `serve` flags; each reads its environment variable when the flag is absent.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub server: ServerSettings,
    #[command(flatten)]
    pub store: StoreSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub cookies: CookieSettings,
    #[command(flatten)]
    pub mail: MailSettings,
    #[command(flatten)]
    pub llm: LlmSettings,
    #[command(flatten)]
    pub generation: GenerationSettings,
    #[command(flatten)]
    pub graphql: QueryLimits,
    #[command(flatten)]
    pub trusted_documents: TrustedDocumentSettings,
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
    #[command(flatten)]
    pub subscriptions: SubscriptionSettings,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
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
        crate::settings::defaults()
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
