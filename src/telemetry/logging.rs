//! The process-wide `tracing` subscriber: log lines (pretty or JSON, filtered by `RUST_LOG`),
//! and, with metrics on, a layer that counts the audit log's events.

use tracing_subscriber::{
    EnvFilter, Layer, filter::filter_fn, layer::SubscriberExt, util::SubscriberInitExt,
};

use super::{TelemetrySettings, metrics::AuditCounter, traces::Traces};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Coloured lines, for people at a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the subscriber; call once, before anything logs. Returns the trace exporter, to be
/// shut down (flushed) when the process ends.
pub fn init(format: LogFormat, settings: &TelemetrySettings) -> anyhow::Result<Option<Traces>> {
    init_to(format, settings, LogOutput::Stdout)
}

/// Where the log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// The server's: its standard output is its log.
    Stdout,
    /// A command whose standard output is its answer (`admin user show --json`).
    Stderr,
}

/// [`init`], writing the log lines to `output`.
pub fn init_to(
    format: LogFormat,
    settings: &TelemetrySettings,
    output: LogOutput,
) -> anyhow::Result<Option<Traces>> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = match output {
        LogOutput::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogOutput::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = match format {
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(filter).boxed(),
        LogFormat::Pretty => fmt.with_filter(filter).boxed(),
    };
    // The audit events are counted whatever RUST_LOG lets through to the log.
    let audit = settings
        .metrics_addr
        .is_some()
        .then(|| AuditCounter.with_filter(filter_fn(|meta| meta.target() == "audit")));
    let (otel, traces) = match &settings.otel_exporter_otlp_endpoint {
        Some(endpoint) => {
            let (layer, traces) = super::traces::layer(endpoint)?;
            (Some(layer), Some(traces))
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(audit)
        .with(otel)
        .init();
    Ok(traces)
}
