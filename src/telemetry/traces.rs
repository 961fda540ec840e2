//! OpenTelemetry traces over OTLP/HTTP (protobuf), when `OTEL_EXPORTER_OTLP_ENDPOINT` is set:
//! the crate's own `tracing` spans (the request, the GraphQL operation, store calls, LLM calls)
//! become OpenTelemetry spans, exported in batches. Span fields are chosen to carry no request
//! data: never variables, tokens, passwords or query text.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use opentelemetry::{propagation::Extractor, trace::TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::{Level, Subscriber};
use tracing_subscriber::{Layer, filter::filter_fn, registry::LookupSpan};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported: the HTTP layer then reads `traceparent` and store calls get spans.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The exporter; [`Traces::shutdown`] sends what is still buffered.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("warning: could not flush the last traces: {err}");
        }
    }
}

/// The layer that turns spans into OpenTelemetry spans, exporting to `endpoint`
/// (`http://collector:4318`; traces go to `{endpoint}/v1/traces`). Only this crate's spans (at
/// debug and above) go, with its warnings and errors as span events.
pub fn layer<S>(endpoint: &str) -> anyhow::Result<(impl Layer<S> + use<S>, Traces)>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    crate::install_crypto_provider();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("cannot set up the OTLP exporter (OTEL_EXPORTER_OTLP_ENDPOINT)")?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_NAME").to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    let tracer = provider.tracer(env!("CARGO_PKG_NAME"));
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    ENABLED.store(true, Ordering::Relaxed);
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(filter_fn(|meta| {
            meta.target().starts_with(env!("CARGO_CRATE_NAME"))
                && if meta.is_span() {
                    *meta.level() <= Level::DEBUG
                } else {
                    *meta.level() <= Level::WARN
                }
        }));
    Ok((layer, Traces { provider }))
}

/// The caller's trace context (`traceparent`), so this server's spans join the caller's trace.
pub fn parent_context(headers: &poem::http::HeaderMap) -> opentelemetry::Context {
    struct Headers<'a>(&'a poem::http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)))
}
