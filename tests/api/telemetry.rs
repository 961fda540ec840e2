//! What an operator sees: request ids in responses and in every log line of a request,
//! Prometheus metrics on their own listener, and OpenTelemetry traces. The server runs as the
//! real binary (logging, the metrics recorder and the trace exporter are process-wide), with
//! JSON logs read back from a file.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::common::{Client, PASSWORD};

/// The server binary as a child process on ports it picked itself, logging JSON to a file.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    log: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    pub async fn start(env: &[(&str, &str)]) -> ServerProcess {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", "sqlite::memory:")
            .env("MAIL_DIR", dir.path().join("mail"))
            .env("JWT_SECRET", "telemetry-secret-telemetry-secret!!")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = ServerProcess {
            child,
            base_url: String::new(),
            log,
            dir,
        };
        server.base_url = server.logged_url("listening on ").await;
        server
    }

    /// The URL the server logged after `prefix` at start-up (`listening on http://…`).
    pub async fn logged_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.records().into_iter().find_map(|r| {
                r["message"]
                    .as_str()?
                    .strip_prefix(prefix)
                    .map(str::to_owned)
            });
            if let Some(url) = found {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not log {prefix:?}: {:?}",
                std::fs::read_to_string(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The JSON log records written so far.
    pub fn records(&self) -> Vec<Value> {
        records(&self.log)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// Stops the server as SIGTERM does, and waits for it to exit.
    pub fn terminate(&mut self) {
        // SAFETY: kill(2) with the id of a child this test started and has not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn records(log: &Path) -> Vec<Value> {
    let Ok(file) = std::fs::File::open(log) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

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
