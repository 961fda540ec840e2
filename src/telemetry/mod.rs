//! What an operator sees of the server: logs (with the request span), Prometheus metrics on a
//! listener of their own, and OpenTelemetry traces. Everything else in the crate only uses the
//! `tracing` and `metrics` facades; this module decides where they go.

pub mod logging;
pub mod metrics;

use std::net::SocketAddr;

/// `METRICS_ADDR`.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetrySettings {
    /// Where to serve Prometheus metrics (`GET /metrics`), apart from the API; unset: none.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        crate::settings::defaults()
    }
}
