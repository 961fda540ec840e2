//! What an operator sees: request ids in responses and in every log line of a request,
//! Prometheus metrics on their own listener, and OpenTelemetry traces. The server runs as the
//! real binary (logging, the metrics recorder and the trace exporter are process-wide), with
//! JSON logs read back from a file.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value as AnyValue,
    trace::v1::Span,
};
use prost::Message;
use serde_json::{Value, json};

use crate::common::{
    Client, Link, PASSWORD,
    fake_llm::{Reply, start_fake},
    process::ServerProcess,
};

/// The request id a JSON log record was written under, if any.
fn request_id_of(record: &Value) -> Option<&str> {
    record["spans"]
        .as_array()?
        .iter()
        .find_map(|s| s["request_id"].as_str())
}

async fn post_with_id(c: &Client, id: Option<&str>, query: &str, variables: Value) -> String {
    let mut req = c
        .http
        .post(format!("{}/graphql", c.base_url))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    let resp = req.send().await.unwrap();
    resp.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_and_every_log_line_of_a_request_carry_its_id() {
    let server = ServerProcess::start(&[]).await;
    let c = server.client();
    let login =
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { message } }";

    // A plain incoming id is kept, and a failed login's audit record carries it.
    let kept = "edge-7f3a.42:retry/1";
    let echoed = post_with_id(
        &c,
        Some(kept),
        login,
        json!({ "u": "nobody", "p": PASSWORD }),
    )
    .await;
    assert_eq!(echoed, kept);

    // None, or one that is not plain, gets a fresh UUID each time.
    let generated = post_with_id(&c, None, "{ __typename }", json!({})).await;
    let replaced = post_with_id(
        &c,
        Some("has spaces and \"quotes\""),
        "{ __typename }",
        json!({}),
    )
    .await;
    let too_long = "x".repeat(129);
    let replaced_long = post_with_id(&c, Some(&too_long), "{ __typename }", json!({})).await;
    for id in [&generated, &replaced, &replaced_long] {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
    assert_ne!(generated, replaced);
    let r = c.get("/healthz").await;
    assert!(
        r.headers().contains_key("x-request-id"),
        "non-GraphQL routes too"
    );

    // Every line logged while serving the login carries its id: the audit record and the
    // request line.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let records = server.records();
        let of_login: Vec<&Value> = records
            .iter()
            .filter(|r| request_id_of(r) == Some(kept))
            .collect();
        let audit = records
            .iter()
            .find(|r| r["target"] == "audit" && r["event"] == "login_failed");
        let request_line = of_login.iter().any(|r| r["message"] == "request");
        if let Some(audit) = audit
            && request_line
        {
            assert_eq!(request_id_of(audit), Some(kept), "{audit}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log lines with the id: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records = server.records();
    for id in [&generated, &replaced] {
        assert!(
            records
                .iter()
                .any(|r| request_id_of(r) == Some(id.as_str())),
            "{id} is in the log"
        );
    }
}

/// Signs up and confirms through the e-mail the server wrote to its mail folder; returns the
/// logged-in browser.
async fn logged_in_user(server: &ServerProcess, username: &str) -> Client {
    let c = server.client();
    let email = format!("{username}@example.com");
    c.sign_up(username, &email, PASSWORD).await.ok();
    let mail_dir = server.dir.path().join("mail");
    let deadline = Instant::now() + Duration::from_secs(10);
    let link = loop {
        let found = std::fs::read_dir(&mail_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter(|text| text.contains(&email))
            .find_map(|text| Link::find_in(&text));
        if let Some(link) = found {
            break link;
        }
        assert!(Instant::now() < deadline, "no e-mail to {email}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    c.verify_email(&link.uid, &link.token).await.ok();
    c
}

/// One sample of a Prometheus text exposition: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse_exposition(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").expect("label=\"value\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the series `name` whose labels include `labels`, summed over the others.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

async fn scrape(metrics_url: &str) -> (String, Vec<Sample>) {
    let resp = reqwest::get(metrics_url).await.unwrap();
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.text().await.unwrap();
    let samples = parse_exposition(&text);
    (text, samples)
}

/// A server with metrics on, a failing LLM and tight sign-up limit, and traffic that touches
/// every metric: named and anonymous operations, a refused one, audit events, a rate-limit
/// refusal and an LLM request.
async fn server_with_metrics_and_traffic() -> (ServerProcess, String) {
    // The fake LLM serves from this test's runtime, which outlives the server.
    let (fake, llm_url) = start_fake(vec![Reply::Status(500)]).await;
    let server = ServerProcess::start(&[
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("LLM_BASE_URL", &llm_url),
        ("LLM_MAX_RETRIES", "0"),
        ("RATE_LIMIT_SIGNUP_PER_CLIENT", "2/1h"),
    ])
    .await;
    let metrics_url = server.logged_url("metrics on ").await;
    let c = logged_in_user(&server, "metered").await;
    for _ in 0..3 {
        c.gql("query ProbeMe { me { username } }", json!({}))
            .await
            .ok();
    }
    c.gql("{ nope }", json!({})).await;
    let r = c
        .generate_quiz(json!({ "topic": "Apollo 11", "questionCount": 2 }))
        .await;
    assert_eq!(r.code(), "LLM_UNAVAILABLE");
    let stranger = server.client();
    stranger
        .sign_up("second", "second@example.com", PASSWORD)
        .await
        .ok();
    let refused = stranger
        .sign_up("third", "third@example.com", PASSWORD)
        .await;
    assert_eq!(refused.code(), "RATE_LIMITED");
    assert_eq!(fake.requests().len(), 1);
    (server, metrics_url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_their_own_listener_only() {
    let (server, metrics_url) = server_with_metrics_and_traffic().await;
    assert_ne!(
        metrics_url,
        format!("{}/metrics", server.base_url),
        "a listener of its own"
    );
    let public = server.client().get("/metrics").await;
    assert_eq!(public.status(), 404, "never on the public listener");

    let (text, samples) = scrape(&metrics_url).await;
    let v = |name: &str, labels: &[(&str, &str)]| {
        value(&samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"))
    };
    assert!(
        v(
            "http_requests_total",
            &[("method", "POST"), ("status", "200")]
        ) >= 8.0
    );
    assert!(v("http_request_duration_seconds_count", &[("method", "POST")]) >= 8.0);
    assert!(
        v(
            "http_request_duration_seconds_bucket",
            &[("method", "POST"), ("le", "+Inf")]
        ) >= 8.0
    );
    // Free text, so its name is no trusted document's: counted by its root field.
    let probe = [
        ("operation_type", "query"),
        ("operation_name", "other"),
        ("root_field", "me"),
        ("outcome", "ok"),
    ];
    assert_eq!(v("graphql_operations_total", &probe), 3.0);
    assert!(!text.contains("ProbeMe"), "a free-text name is no label");
    assert!(
        v(
            "graphql_operations_total",
            &[("operation_name", "anonymous"), ("outcome", "error")]
        ) >= 1.0
    );
    assert_eq!(
        v(
            "graphql_operations_total",
            &[
                ("operation_type", "query"),
                ("operation_name", "anonymous"),
                ("root_field", "none"),
                ("outcome", "refused")
            ]
        ),
        1.0
    );
    assert!(
        v(
            "graphql_operation_duration_seconds_count",
            &[("operation_type", "query")]
        ) >= 3.0
    );
    assert_eq!(v("auth_events_total", &[("event", "signed_up")]), 2.0);
    assert_eq!(v("auth_events_total", &[("event", "email_verified")]), 1.0);
    assert_eq!(v("rate_limited_total", &[("limit", "SignUpClient")]), 1.0);
    assert_eq!(
        v(
            "llm_requests_total",
            &[("purpose", "quiz"), ("outcome", "status")]
        ),
        1.0
    );
    assert_eq!(
        v("llm_request_duration_seconds_count", &[("purpose", "quiz")]),
        1.0
    );
    assert!(v("mail_outbox_pending", &[]) >= 0.0);
    assert!(v("process_resident_memory_bytes", &[]) > 0.0);
    assert!(v("process_cpu_seconds_total", &[]) >= 0.0);
    // Histograms have buckets (not summaries' quantiles), and no label carries request data.
    assert!(!text.contains("quantile="));
    for secret in [PASSWORD, "metered@example.com", "Apollo 11"] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
}

/// A flood of made-up operation names: none becomes a label, nothing the client named grows
/// the metrics or reaches a log line, and a real operation is still counted as itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_operation_names_neither_grow_nor_hide_the_metrics() {
    use sha2::{Digest, Sha256};
    let manifest_dir = tempfile::tempdir().unwrap();
    let me = "query Me { me { username } }";
    let me_id: String = Sha256::digest(me.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let manifest = manifest_dir.path().join("manifest.json");
    std::fs::write(&manifest, json!({ &me_id: me }).to_string()).unwrap();
    let server = ServerProcess::start(&[
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("TRUSTED_DOCUMENTS", "allow"),
        ("TRUSTED_DOCUMENTS_FILE", manifest.to_str().unwrap()),
    ])
    .await;
    let metrics_url = server.logged_url("metrics on ").await;
    let c = server.client();
    let post = |body: Value| {
        let http = c.http.clone();
        let url = format!("{}/graphql", c.base_url);
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    for i in 0..250 {
        let body = post(json!({ "query": format!("query Made{i}Up {{ __typename }}") })).await;
        assert_eq!(body["data"]["__typename"], "QueryRoot");
    }
    // A long name on a login: once a whole log line and a label.
    let long = "N".repeat(20_000);
    let body = post(json!({
        "query": format!("mutation {long} {{ login(username: \"nobody\", password: \"not the password\") {{ message }} }}"),
        "operationName": long,
    }))
    .await;
    assert_eq!(body["errors"][0]["extensions"]["limit"], "operationName");

    // The real `Me`, by its trusted id, and once more as free text under another name.
    let body = post(json!({ "documentId": me_id })).await;
    assert_eq!(body, json!({ "data": { "me": null } }));
    let body = post(json!({ "query": "query Whatever { me { username } }" })).await;
    assert_eq!(body, json!({ "data": { "me": null } }));

    // A long path and a made-up method: logged, but not at length.
    let path = format!("/{}", "p".repeat(5_000));
    let r = c
        .http
        .get(format!("{}{path}", c.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let method = reqwest::Method::from_bytes("M".repeat(5_000).as_bytes()).unwrap();
    c.http
        .request(method, format!("{}/graphql", c.base_url))
        .send()
        .await
        .unwrap();

    let (text, samples) = scrape(&metrics_url).await;
    let v = |labels: &[(&str, &str)]| value(&samples, "graphql_operations_total", labels);
    assert_eq!(
        v(&[
            ("operation_name", "Me"),
            ("root_field", "me"),
            ("outcome", "ok")
        ]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(v(&[("root_field", "me"), ("outcome", "ok")]), Some(2.0));
    assert_eq!(
        v(&[("operation_name", "other"), ("root_field", "__typename")]),
        Some(250.0)
    );
    assert!(!text.contains("Made"), "made-up names are no labels");
    assert!(!text.contains("NNNN"));
    let series = text
        .lines()
        .filter(|l| l.starts_with("graphql_operations_total{"))
        .count();
    assert!(series <= 5, "{series} series:\n{text}");
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains("NNNN"), "the long name reached the log");
    assert!(log.contains(&"p".repeat(255)), "the path is logged");
    assert!(!log.contains(&"p".repeat(300)), "but not at length");
    assert!(!log.contains("MMMM"), "nor is a made-up method");
    assert!(
        log.lines().all(|l| l.len() < 4096),
        "every log line stays short"
    );
}

/// Set (to 1) by `scripts/test.sh`: the test that scrapes with Prometheus must run, so a
/// missing binary fails it instead of letting it pass without running.
const REQUIRE_PROMETHEUS: &str = "QUIZ_LLM_REQUIRE_PROMETHEUS";

/// Debian's `prometheus` binary, or `None` after saying loudly that the test did not run.
fn prometheus_binary() -> Option<PathBuf> {
    let path =
        PathBuf::from(std::env::var("PROMETHEUS_BIN").unwrap_or("/usr/bin/prometheus".into()));
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{} is missing: the Prometheus scrape test DID NOT RUN (apt-get install prometheus; \
         .ci/run installs it)",
        path.display()
    );
    if std::env::var(REQUIRE_PROMETHEUS).is_ok_and(|v| v == "1") {
        panic!("{message}, and {REQUIRE_PROMETHEUS}=1 requires it");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n!!! {message} !!!\n");
    None
}

/// A Prometheus server scraping `target` every second, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(binary: &Path, target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 200ms\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: quiz-llm\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// The result vector of an instant query (empty while Prometheus is not up yet).
    async fn query(&self, promql: &str) -> Vec<Value> {
        let encoded: String = promql
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let resp = reqwest::get(format!("{}/api/v1/query?query={encoded}", self.url)).await;
        match resp {
            Ok(resp) => resp
                .json::<Value>()
                .await
                .ok()
                .and_then(|body| body["data"]["result"].as_array().cloned()),
            Err(_) => None,
        }
        .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_metrics() {
    let Some(binary) = prometheus_binary() else {
        return;
    };
    let (_server, metrics_url) = server_with_metrics_and_traffic().await;
    let target = metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    let prometheus = Prometheus::start(&binary, target);
    let query = r#"graphql_operations_total{root_field="me",outcome="ok"}"#;
    let deadline = Instant::now() + Duration::from_secs(90);
    let result = loop {
        let result = prometheus.query(query).await;
        if !result.is_empty() {
            break result;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had {query}; its log:\n{}",
            std::fs::read_to_string(&prometheus.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(result[0]["value"][1], "3", "{result:?}");
    assert_eq!(result[0]["metric"]["job"], "quiz-llm");
    let up = prometheus.query(r#"up{job="quiz-llm"}"#).await;
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let buckets = prometheus
        .query(r#"histogram_quantile(0.5, sum by (le) (http_request_duration_seconds_bucket))"#)
        .await;
    assert!(!buckets.is_empty(), "the histogram is usable in PromQL");
}

/// A small OTLP/HTTP receiver (protobuf, as the server exports): keeps every span it is sent.
async fn otlp_receiver() -> (Arc<Mutex<Vec<Span>>>, String) {
    #[poem::handler]
    async fn traces(
        body: poem::Body,
        spans: poem::web::Data<&Arc<Mutex<Vec<Span>>>>,
    ) -> poem::Response {
        let bytes = body.into_bytes().await.unwrap();
        let request = ExportTraceServiceRequest::decode(bytes.as_ref()).expect("OTLP protobuf");
        let received = request
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        spans.lock().unwrap().extend(received);
        poem::Response::builder()
            .content_type("application/x-protobuf")
            .body(Vec::new())
    }
    use poem::{EndpointExt, listener::Acceptor, listener::Listener};
    let spans = Arc::new(Mutex::new(Vec::new()));
    let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
    let app = poem::Route::new()
        .at("/v1/traces", poem::post(traces))
        .data(spans.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (spans, format!("http://{addr}"))
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            AnyValue::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_an_otlp_receiver_without_request_data() {
    let (received, endpoint) = otlp_receiver().await;
    let (fake, llm_url) = start_fake(vec![Reply::Status(500)]).await;
    let mut server = ServerProcess::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("LLM_BASE_URL", &llm_url),
        ("LLM_MAX_RETRIES", "0"),
        // The test's own address is the proxy's; 127.0.0.2 is a client's.
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let c = logged_in_user(&server, "traced").await;
    let token = c.login("traced", PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // A caller that is itself traced: the request joins its trace.
    let (trace_id, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let r = c
        .http
        .post(format!("{}/graphql", c.base_url))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({ "query": "query ProbeMe { me { username } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A client is no proxy: its trace context is not taken.
    let (client_trace, client_span) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let from_client = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = from_client
        .post(format!("{}/graphql", c.base_url))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .json(&json!({ "query": "query ClientProbe { me { username } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .generate_quiz(json!({ "topic": "Secret topic zebra", "questionCount": 2 }))
        .await;
    assert_eq!(r.code(), "LLM_UNAVAILABLE");
    assert_eq!(fake.requests().len(), 1);
    // The last spans are sent when the server stops.
    server.terminate();

    let spans = received.lock().unwrap().clone();
    let named = |name: &'static str| spans.iter().filter(move |s| s.name == name);
    let by_id = |id: &[u8]| spans.iter().find(|s| s.span_id == id);
    let ancestors = |span: &Span| {
        let mut chain = Vec::new();
        let mut next = by_id(&span.parent_span_id);
        while let Some(parent) = next {
            chain.push(parent.name.clone());
            next = by_id(&parent.parent_span_id);
        }
        chain
    };

    let probe = named("graphql.operation")
        .find(|s| attribute(s, "graphql.operation.name").as_deref() == Some("ProbeMe"))
        .unwrap_or_else(|| {
            panic!(
                "no ProbeMe operation span in {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(
        attribute(probe, "graphql.operation.type").as_deref(),
        Some("query")
    );
    assert_eq!(attribute(probe, "graphql.outcome").as_deref(), Some("ok"));
    let request = by_id(&probe.parent_span_id).expect("the operation's parent");
    assert_eq!(request.name, "request");
    assert_eq!(
        hex(&request.trace_id),
        trace_id,
        "joined the caller's trace"
    );
    assert_eq!(hex(&request.parent_span_id), caller_span);
    assert_eq!(
        attribute(request, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(attribute(request, "url.path").as_deref(), Some("/graphql"));
    assert_eq!(
        attribute(request, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(attribute(request, "request_id").is_some());

    let client_probe = named("graphql.operation")
        .find(|s| attribute(s, "graphql.operation.name").as_deref() == Some("ClientProbe"))
        .expect("the client's operation was traced");
    let request = by_id(&client_probe.parent_span_id).expect("the operation's parent");
    assert_ne!(hex(&request.trace_id), client_trace, "a trace of its own");
    assert!(
        request.parent_span_id.is_empty(),
        "the client's span is no parent"
    );

    let store_calls: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.starts_with("store "))
        .collect();
    assert!(
        store_calls
            .iter()
            .any(|s| ancestors(s).contains(&"graphql.operation".to_owned())),
        "store calls inside operations: {:?}",
        store_calls
            .iter()
            .map(|s| (&s.name, ancestors(s)))
            .collect::<Vec<_>>()
    );
    assert!(
        store_calls
            .iter()
            .all(|s| attribute(s, "db.system.name").as_deref() == Some("sqlite"))
    );

    let llm = named("llm.request").next().expect("an LLM span");
    assert_eq!(attribute(llm, "purpose").as_deref(), Some("quiz"));
    assert_eq!(attribute(llm, "outcome").as_deref(), Some("status"));
    assert_eq!(
        ancestors(llm)[..2],
        ["graphql.operation".to_owned(), "request".to_owned()]
    );

    // Nothing the client sent as data: no password, token, address or variable.
    let everything = format!("{spans:?}");
    for secret in [PASSWORD, &token, "traced@example.com", "Secret topic zebra"] {
        assert!(!everything.contains(secret), "{secret:?} was exported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_strings_never_reach_the_log() {
    // Debug level, so whatever the server and its libraries log about requests is there too.
    let server = ServerProcess::start(&[("RUST_LOG", "debug")]).await;
    let c = Client::new(&server.base_url);
    let secret = |n: u8| format!("SeCrEt{n}{}", uuid::Uuid::new_v4().simple());
    let secrets: Vec<String> = (0..5).map(secret).collect();
    let uid = uuid::Uuid::new_v4();
    let requests = [
        (format!("/verify-email?uid={uid}&token={}", secrets[0]), 200),
        (
            format!("/reset-password?uid={uid}&token={}", secrets[1]),
            200,
        ),
        (
            format!(
                "/graphql?query=query($s:String)%7B__typename%7D&variables=%7B%22s%22:%22{}%22%7D",
                secrets[2]
            ),
            200,
        ),
        (
            format!(
                "/graphql?query=mutation%7Blogout%7Bmessage%7D%7D&token={}",
                secrets[3]
            ),
            405,
        ),
        (format!("/graphql?variables={}", secrets[4]), 400),
    ];
    for (path, status) in &requests {
        assert_eq!(c.get(path).await.status().as_u16(), *status, "{path}");
    }
    // Each request was logged, by its path.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logged: Vec<(String, u64)> = server
            .records()
            .iter()
            .filter(|r| r["message"] == "request")
            .map(|r| {
                (
                    r["path"].as_str().unwrap_or_default().to_owned(),
                    r["status"].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        let wanted = [
            ("/verify-email", 200),
            ("/reset-password", 200),
            ("/graphql", 200),
            ("/graphql", 405),
            ("/graphql", 400),
        ];
        if wanted
            .iter()
            .all(|(p, s)| logged.contains(&((*p).to_owned(), *s)))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "requests missing from the log: {logged:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&server.log).unwrap();
    for secret in &secrets {
        if let Some(at) = text.find(secret.as_str()) {
            panic!(
                "a query string reached the log: {}",
                &text[at.saturating_sub(300)..at + secret.len()]
            );
        }
    }
}
