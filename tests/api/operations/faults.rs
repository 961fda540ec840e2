//! Survival: the database going away and coming back, and SIGTERM under load.

use crate::common;

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use common::{
    Backend, Client, PASSWORD, TestApp,
    fake_llm::{Reply, start_fake},
    free_port,
};
use quiz_llm::{config::SecretString, store::DatabaseUrl};
use serde_json::json;

async fn status(c: &Client, path: &str) -> u16 {
    c.get(path).await.status().as_u16()
}

/// Polls until `path` answers `want` (a refused connection counts as not yet), for at most
/// `limit`.
async fn wait_status(c: &Client, path: &str, want: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    let url = format!("{}{path}", c.base_url);
    loop {
        let got = c.http.get(&url).send().await.map(|r| r.status().as_u16());
        if got.as_ref().is_ok_and(|s| *s == want) {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never answered {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_sqlite_database_fails_fast_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faults.db");
    let db = DatabaseUrl::Sqlite(Some(path.clone()));
    let app = TestApp::spawn(Backend::Sqlite, move |c| {
        c.store.database_url = db;
        c.store.options.timeout = Duration::from_millis(500);
    })
    .await
    .unwrap();
    let (browser, _) = app.new_user("steady").await;

    // Another process takes the write lock and keeps it: the database is not writable.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        locked_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
    });
    locked_rx.recv().unwrap();

    let started = Instant::now();
    let r = app
        .client()
        .sign_up("blocked", "blocked@example.com", PASSWORD)
        .await;
    assert_eq!(r.code(), "INTERNAL");
    assert_eq!(r.message(), "Internal error.");
    // Bounded by DATABASE_TIMEOUT (0.5 s), well below the 5 s default it would take otherwise.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status(&browser, "/readyz").await, 503);
    assert_eq!(status(&browser, "/healthz").await, 200);

    release_tx.send(()).unwrap();
    holder.join().unwrap();
    // Back by itself, no restart.
    wait_status(&browser, "/readyz", 200, Duration::from_secs(5)).await;
    app.client()
        .sign_up("blocked", "blocked@example.com", PASSWORD)
        .await
        .ok();
    assert_eq!(browser.me().await.ok().data()["me"]["username"], "steady");
}

/// A MongoDB-wire server of the test's own, so it can be stopped and started again on the same
/// port. Uses the launcher `scripts/mongo-test-server.sh install` prints.
struct OwnMongo {
    command: String,
    port: u16,
    child: Option<Child>,
}

impl OwnMongo {
    fn install() -> OwnMongo {
        let out = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/mongo-test-server.sh"
        ))
        .arg("install")
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/mongo-test-server.sh install");
        assert!(
            out.status.success(),
            "installing the MongoDB test server failed"
        );
        let command = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(
            command.starts_with("java "),
            "unexpected launcher: {command}"
        );
        OwnMongo {
            command,
            port: free_port(),
            child: None,
        }
    }

    async fn start(&mut self) {
        let cmd = self
            .command
            .replace("HOST PORT", &format!("127.0.0.1 {}", self.port));
        self.child = Some(
            Command::new("bash")
                .arg("-c")
                .arg(format!("exec {cmd}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the MongoDB test server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnMongo {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_going_away_fails_fast_and_recovers() {
    // Runs where the MongoDB tests run (the same launcher); without a server it says so loudly,
    // or fails when QUIZ_LLM_REQUIRE_MONGO=1.
    if common::mongodb_test_url().is_none() {
        return;
    }
    let mut mongo = OwnMongo::install();
    mongo.start().await;
    let url = format!("mongodb://127.0.0.1:{}/faults", mongo.port);
    let app = TestApp::spawn(Backend::Sqlite, move |c| {
        c.store.database_url = DatabaseUrl::Mongo(SecretString::from(url));
        c.store.options.timeout = Duration::from_secs(1);
    })
    .await
    .unwrap();
    let (browser, _) = app.new_user("mongo-user").await;

    mongo.stop();
    let started = Instant::now();
    let r = browser.me().await;
    assert_eq!(r.code(), "INTERNAL");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status(&browser, "/readyz").await, 503);
    assert_eq!(status(&browser, "/healthz").await, 200);

    mongo.start().await;
    wait_status(&browser, "/readyz", 200, Duration::from_secs(20)).await;
    // The in-memory test server came back empty; what matters is that the app serves again.
    app.client()
        .sign_up("after-outage", "after@example.com", PASSWORD)
        .await
        .ok();
}

struct ServerProcess {
    child: Child,
    port: u16,
    base_url: String,
    mail_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn spawn_server(llm_url: &str, drain: Duration) -> ServerProcess {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mail_dir = dir.path().join("mail");
    let child = Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        )
        .env("MAIL_DIR", &mail_dir)
        .env("JWT_SECRET", "sigterm-test-secret-sigterm-test-secret")
        .env("LLM_BASE_URL", llm_url)
        .env(
            "SHUTDOWN_DRAIN",
            humantime::format_duration(drain).to_string(),
        )
        .env("RUST_LOG", "warn")
        .env("PASSWORD_HASH_MEMORY_KIB", "8")
        .env("PASSWORD_HASH_ITERATIONS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ServerProcess {
        child,
        port,
        base_url: format!("http://127.0.0.1:{port}"),
        mail_dir,
        _dir: dir,
    }
}

/// SIGTERM first drains (unready for the load balancer, still serving), then stops accepting,
/// lets the request in flight finish and exits with status 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_finishes_in_flight_requests_and_exits_cleanly() {
    const DRAIN: Duration = Duration::from_secs(3);
    let quiz = json!({
        "title": "Slow quiz",
        "description": "d",
        "questions": [{ "content": "Q?", "answer_type": "true_false", "explanation": "e",
            "choices": [{ "content": "True", "is_correct": true }, { "content": "False", "is_correct": false }] }],
    })
    .to_string();
    // The LLM answers only when the test says so: the slow request is in flight for as long as
    // the test needs it to be.
    let release = Arc::new(tokio::sync::Notify::new());
    let (fake, llm_url) = start_fake(vec![Reply::Held(release.clone(), quiz)]).await;
    let mut server = spawn_server(&llm_url, DRAIN);
    let c = Client::new(&server.base_url);
    wait_status(&c, "/healthz", 200, Duration::from_secs(20)).await;

    c.sign_up("graceful", "graceful@example.com", PASSWORD)
        .await
        .ok();
    let mail = std::fs::read_dir(&server.mail_dir)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "txt"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    let link = common::Link::find_in(&mail).unwrap();
    c.verify_email(&link.uid, &link.token).await.ok();

    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            c.generate_quiz(json!({ "topic": "t", "questionCount": 1, "choiceCount": 2 }))
                .await
        })
    };
    // The slow request has reached the LLM, so it is inside the server; quick ones keep coming.
    let deadline = Instant::now() + Duration::from_secs(15);
    while fake.requests().is_empty() {
        assert!(Instant::now() < deadline, "the LLM was never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..20 {
        c.gql("{ __typename }", json!({})).await.ok();
    }
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let terminated = Instant::now();

    // Draining: unready at once, yet new connections and requests are still served.
    wait_status(&c, "/readyz", 503, Duration::from_secs(2)).await;
    let newcomer = Client::new(&server.base_url);
    assert_eq!(status(&newcomer, "/healthz").await, 200);
    newcomer.gql("{ __typename }", json!({})).await.ok();
    c.gql("{ __typename }", json!({})).await.ok();
    assert!(
        terminated.elapsed() < DRAIN,
        "too slow to check the drain period; the checks above may have run after it"
    );

    // After the drain period: new connections are refused while the slow request is still
    // open and the process still runs.
    let deadline = Instant::now() + DRAIN + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted after SIGTERM and the drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        terminated.elapsed() >= DRAIN,
        "stopped accepting after {:?}, before the drain period ended",
        terminated.elapsed()
    );
    assert!(
        !slow.is_finished(),
        "the slow request ended before the LLM answered"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited with a request in flight"
    );

    release.notify_one();
    let finished = slow.await.unwrap().ok();
    assert_eq!(
        finished.data()["generateQuiz"]["title"],
        "Slow quiz",
        "the in-flight request finished"
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(code.success(), "exit status {code:?}");
}
