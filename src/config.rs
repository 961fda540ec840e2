//! All settings, gathered from the subsystems that own them. Every variable has a `serve --flag`
//! twin and its default next to its definition; values are checked once, at start-up, so a typo
//! stops the process with a clear message instead of surfacing later as a strange runtime error.

use clap::Args;

use crate::{
    auth::AuthSettings, graphql::cookies::CookieSettings, graphql::limits::QueryLimits,
    graphql::trusted::TrustedDocumentSettings, http::ServerSettings,
    http::subscriptions::SubscriptionSettings, llm::LlmSettings, mail::MailSettings,
    quiz::jobs::GenerationSettings, quiz::materials::UploadSettings, store::StoreSettings,
    telemetry::TelemetrySettings,
};

pub mod reference;

pub use crate::telemetry::logging::LogFormat;

pub use crate::store::DatabaseUrl;
/// Secrets in settings: `Debug` redacts them and they are wiped from memory when dropped.
pub use secrecy::{ExposeSecret, SecretString};

/// The `serve` flags; each reads its environment variable when the flag is absent. The help
/// headings group them in `--help` and in the generated configuration reference.
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
