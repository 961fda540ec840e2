//! Prometheus metrics. Code anywhere in the crate records through the `metrics` facade (a no-op
//! until a recorder is installed); with `METRICS_ADDR` set, [`install`] puts the Prometheus
//! recorder in place and [`endpoint`] renders it on its own listener, never the public one.
//!
//! Handles for label sets already seen are kept per thread: a registry lookup hashes every
//! label on every call, a handle is an atomic add.
//!
//! Labels stay few: methods, statuses, outcomes and purposes come from fixed lists, operation
//! names from the trusted documents' manifest and root fields from the schema, so no client can
//! mint label values nor crowd real operations out.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::future::BoxFuture;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Route, get, handler,
    http::StatusCode,
    web::{Data, WithContentType},
};
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::layer::{Context, Layer};

/// Upper bounds, in seconds, of the duration histograms' buckets: from a cached read (a
/// millisecond) to a slow LLM call (two minutes).
const DURATION_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so memory stays
/// bounded when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether a recorder is installed: callers skip building labels that would go nowhere.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Installs the Prometheus recorder for the whole process (once; later calls share it) and
/// describes the metrics.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    // Two applications starting at once in one process must not both try to install one.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_duration_seconds".into()),
            &DURATION_BUCKETS,
        )?
        .install_recorder()?;
    let handle = HANDLE.get_or_init(|| handle).clone();
    describe();
    process_collector().describe();
    ENABLED.store(true, Ordering::Relaxed);
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request."
    );
    describe_counter!(
        "graphql_operations_total",
        "GraphQL operations by type, name (trusted documents only), root field (operations \
         that ran) and outcome: ok, error (an error while executing) or refused (never ran)."
    );
    describe_histogram!(
        "graphql_operation_duration_seconds",
        Unit::Seconds,
        "Time to run a GraphQL operation, from its parse to its result."
    );
    describe_counter!(
        "auth_events_total",
        "Audit log events (logins, sign-ups, refreshes, …)."
    );
    describe_counter!(
        "rate_limited_total",
        "Requests refused by a rate limit, by limit."
    );
    describe_gauge!(
        "mail_outbox_pending",
        "E-mails in the outbox still to be delivered (dead letters excluded)."
    );
    describe_gauge!(
        "graphql_subscriptions_active",
        "Subscriptions listening for changes on this process, by root field."
    );
    describe_counter!("llm_requests_total", "LLM requests by purpose and outcome.");
    describe_histogram!(
        "llm_request_duration_seconds",
        Unit::Seconds,
        "Time an LLM request took, retries and the repair round included."
    );
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// One thread's handles for requests, by method and status.
type RequestHandles = HashMap<(&'static str, u16), (Counter, Histogram)>;

/// `http_requests_total` and `http_request_duration_seconds` for one answered request.
pub fn record_request(method: &'static str, status: u16, seconds: f64) {
    thread_local! {
        static HANDLES: RefCell<RequestHandles> = RefCell::new(HashMap::new());
    }
    HANDLES.with_borrow_mut(|handles| {
        let (count, duration) = handles.entry((method, status)).or_insert_with(|| {
            (
                metrics::counter!("http_requests_total", "method" => method, "status" => status.to_string()),
                metrics::histogram!("http_request_duration_seconds", "method" => method),
            )
        });
        count.increment(1);
        duration.record(seconds);
    });
}

/// The operation types, in the order of [`OperationHandles`]' rows.
const OPERATION_TYPES: [&str; 4] = ["query", "mutation", "subscription", "unknown"];
/// The outcomes, in the order of its columns.
const OUTCOMES: [&str; 3] = ["ok", "error", "refused"];

/// One thread's counters by operation type and outcome, for one operation name.
type OperationCounters = [[Option<Counter>; 3]; 4];

#[derive(Default)]
struct OperationHandles {
    /// By operation name and root field: both from bounded sets (see [`record_operation`]).
    labelled: HashMap<String, HashMap<String, OperationCounters>>,
    durations: [Option<Histogram>; 4],
}

/// `graphql_operations_total` and `graphql_operation_duration_seconds` for one operation.
/// `operation_type` is one of `query`, `mutation`, `subscription`, `unknown`; `outcome` one of
/// `ok`, `error`, `refused`. `name` and `root_field` must come from sets no client can grow: a
/// trusted document's operation name (else `anonymous` or `other`), and a root field of an
/// operation that passed validation (else `none`).
pub fn record_operation(
    operation_type: &'static str,
    name: &str,
    root_field: &str,
    outcome: &'static str,
    seconds: f64,
) {
    thread_local! {
        static HANDLES: RefCell<OperationHandles> = RefCell::new(OperationHandles::default());
    }
    let row = OPERATION_TYPES
        .iter()
        .position(|t| *t == operation_type)
        .unwrap_or(3);
    let column = OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(1);
    HANDLES.with_borrow_mut(|handles| {
        // Looked up by reference: a key is copied once per thread, not per operation.
        if !handles.labelled.contains_key(name) {
            handles.labelled.insert(name.to_owned(), HashMap::new());
        }
        let by_field = handles.labelled.get_mut(name).expect("inserted above");
        if !by_field.contains_key(root_field) {
            by_field.insert(root_field.to_owned(), Default::default());
        }
        let counters = by_field.get_mut(root_field).expect("inserted above");
        counters[row][column]
            .get_or_insert_with(|| {
                metrics::counter!(
                    "graphql_operations_total",
                    "operation_type" => OPERATION_TYPES[row],
                    "operation_name" => name.to_owned(),
                    "root_field" => root_field.to_owned(),
                    "outcome" => OUTCOMES[column],
                )
            })
            .increment(1);
        handles.durations[row]
            .get_or_insert_with(|| {
                metrics::histogram!(
                    "graphql_operation_duration_seconds",
                    "operation_type" => OPERATION_TYPES[row]
                )
            })
            .record(seconds);
    });
}

/// Gauges to set right before a scrape: read (from the store, say) by the future, set by the
/// function it resolves to.
pub type BeforeScrape =
    std::sync::Arc<dyn Fn() -> BoxFuture<'static, Box<dyn FnOnce() + Send>> + Send + Sync>;

struct Exporter {
    handle: PrometheusHandle,
    before_scrape: BeforeScrape,
}

#[handler]
async fn scrape(exporter: Data<&std::sync::Arc<Exporter>>) -> WithContentType<String> {
    let set_gauges = (exporter.before_scrape)().await;
    // The recorder is the process's, the gauges set before a scrape are one application's:
    // where several applications share a process (the test suite), one sets and renders its
    // own before the next sets its.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let text = {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        set_gauges();
        process_collector().collect();
        exporter.handle.run_upkeep();
        exporter.handle.render()
    };
    text.with_content_type("text/plain; version=0.0.4; charset=utf-8")
}

/// `GET /metrics`, for the metrics listener.
pub fn endpoint(handle: PrometheusHandle, before_scrape: BeforeScrape) -> impl Endpoint + 'static {
    let exporter = std::sync::Arc::new(Exporter {
        handle,
        before_scrape,
    });
    Route::new()
        .at("/metrics", get(scrape))
        .data(exporter)
        .catch_all_error(|_| async { StatusCode::NOT_FOUND })
}

/// Counts the audit log's events (`target: "audit"`, field `event`) as `auth_events_total`, and
/// the rate-limit refusals among them as `rate_limited_total` by the limit's name (`bucket`).
pub struct AuditCounter;

#[derive(Default)]
struct AuditFields {
    event: Option<String>,
    bucket: Option<String>,
}

impl Visit for AuditFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.event = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "event" => self.event = Some(format!("{value:?}").trim_matches('"').to_owned()),
            "bucket" => self.bucket = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// Names from the code itself, but a label value must stay a short plain word all the same.
fn plain_label(value: String) -> String {
    if value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        value
    } else {
        "other".into()
    }
}

impl<S: Subscriber> Layer<S> for AuditCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = AuditFields::default();
        event.record(&mut fields);
        let Some(name) = fields.event else { return };
        let name = plain_label(name);
        if name == "rate_limited" {
            let limit = plain_label(fields.bucket.unwrap_or_else(|| "unknown".into()));
            metrics::counter!("rate_limited_total", "limit" => limit).increment(1);
        }
        metrics::counter!("auth_events_total", "event" => name).increment(1);
    }
}
