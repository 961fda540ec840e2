//! What an operator sees of the server: logs (with the request span), Prometheus metrics on a
//! listener of their own, and OpenTelemetry traces. Everything else in the crate only uses the
//! `tracing` and `metrics` facades; this module decides where they go.

pub mod logging;
pub mod metrics;
pub mod traces;

use std::net::SocketAddr;

/// `METRICS_ADDR`, `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetrySettings {
    /// Where to serve Prometheus metrics (`GET /metrics`), e.g. 127.0.0.1:9100: a listener of
    /// its own, never the API's; port 0 picks a free one and logs it. Unset: no metrics.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// OTLP/HTTP collector for traces, e.g. http://localhost:4318 (spans go to /v1/traces);
    /// unset: no traces. OTEL_SERVICE_NAME overrides the service name `quiz-llm`.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = crate::config::parse::parse_http_url)]
    pub otel_exporter_otlp_endpoint: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}
