//! A deployment in miniature for the multi-node suite (`tests/api/operations/nodes.rs`): three real
//! `quiz-llm serve` processes on one store (a SQLite file in WAL mode, or a fresh MongoDB
//! database), each on its own port, behind a real HAProxy started with the repository's
//! `deploy/haproxy.cfg`, and an SMTP sink that sees every e-mail. Processes cannot share an
//! injected clock, so everything here runs on real time with short intervals.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    sync::{
        Arc, Mutex, Once,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use quiz_llm::{
    config::ExposeSecret,
    store::{DatabaseUrl, Store},
};
use serde_json::{Value, json};
use tokio::{
    process::{Child, Command},
    sync::{Semaphore, SemaphorePermit},
    task::JoinHandle,
};

use super::{Backend, Client, DbGuard, Link, PASSWORD, database_for, free_port, smtp::SmtpSink};

/// Set (to 1) by `scripts/test.sh`: the multi-node tests must run, so a missing `haproxy`
/// fails them instead of letting them pass without running.
pub const REQUIRE_HAPROXY: &str = "QUIZ_LLM_REQUIRE_HAPROXY";

/// The balancer configuration the tests share with docker-compose.yml.
pub const HAPROXY_CFG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/haproxy.cfg");
/// What the configuration reads from the environment: where clients connect, the stats page,
/// the interval between health checks, and (with 1, 2, 3 appended) the servers.
pub const LB_BIND: &str = "QUIZ_LB_BIND";
pub const LB_STATS_BIND: &str = "QUIZ_LB_STATS_BIND";
pub const LB_CHECK_INTERVAL: &str = "QUIZ_LB_CHECK_INTERVAL";
pub const LB_NODE: &str = "QUIZ_NODE_";
/// How often HAProxy checks `/readyz` here; two failed checks take a node out of rotation.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// Each node's `SHUTDOWN_DRAIN`: well above two check intervals, so the balancer has moved
/// away before a node stops accepting.
pub const DRAIN: Duration = Duration::from_secs(2);
const JWT_SECRET: &str = "multi-node-secret-multi-node-secret-0123";
/// Every rate limit, far above what a test reaches from its one address.
const RATE_LIMIT_VARS: [&str; 9] = [
    "RATE_LIMIT_LOGIN_PER_ACCOUNT",
    "RATE_LIMIT_LOGIN_PER_ACCOUNT_GLOBAL",
    "RATE_LIMIT_LOGIN_PER_CLIENT",
    "RATE_LIMIT_SIGNUP_PER_CLIENT",
    "RATE_LIMIT_MAIL_PER_ADDRESS",
    "RATE_LIMIT_MAIL_PER_CLIENT",
    "RATE_LIMIT_REFRESH_PER_SESSION",
    "RATE_LIMIT_GENERATE_PER_USER",
    "RATE_LIMIT_SUBMIT_PER_USER",
];
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the balancer may take to see a node come or go.
const BALANCER_TIMEOUT: Duration = Duration::from_secs(15);

/// Clusters run one at a time: each is four processes and a steady load, on a small machine
/// shared with the rest of the suite.
static ONE_AT_A_TIME: Semaphore = Semaphore::const_new(1);

/// HAProxy, or `None` (after one loud line) when it is not installed and [`REQUIRE_HAPROXY`]
/// is not set; with it set, a missing HAProxy fails the test.
pub fn haproxy_binary() -> Option<PathBuf> {
    static WARN: Once = Once::new();
    let in_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = in_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("haproxy"))
        .find(|path| path.is_file());
    if found.is_none() {
        if std::env::var(REQUIRE_HAPROXY).is_ok_and(|v| v == "1") {
            panic!(
                "haproxy is not installed, but {REQUIRE_HAPROXY}=1 requires the multi-node tests \
                 to run (Debian: apt-get install haproxy; .ci/run installs it)"
            );
        }
        WARN.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! haproxy is not installed: the multi-node tests DID NOT RUN \
                 (apt-get install haproxy) !!!\n"
            );
        });
    }
    found
}

/// One `quiz-llm serve` process, which the test can kill, stop and start again on its port.
pub struct Node {
    pub name: String,
    pub url: String,
    env: Vec<(String, String)>,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("node log file");
        let child = Command::new(env!("CARGO_BIN_EXE_quiz-llm"))
            .arg("serve")
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("node log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start quiz-llm");
        self.child = Some(child);
    }

    fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    /// Waits until the node answers `/readyz` with 200 itself.
    pub async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let ready = http
                .get(format!("{}/readyz", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{} exited with {status} while starting:\n{}",
                    self.name,
                    tail(&self.log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} was not ready within {STARTUP_TIMEOUT:?}:\n{}",
                self.name,
                tail(&self.log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and waits until the process is gone.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("a running node");
        child.kill().await.expect("SIGKILL");
    }

    /// SIGTERM, and waits for the process to exit (drain, then in-flight requests).
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "could not send SIGTERM to {}", self.name);
        let mut child = self.child.take().expect("a running node");
        tokio::time::timeout(SHUTDOWN_TIMEOUT, child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} did not exit within {SHUTDOWN_TIMEOUT:?} of SIGTERM",
                    self.name
                )
            })
            .expect("wait for the node")
    }

    /// Starts the process again, on the same port and store, and waits until it is ready.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        self.spawn();
        self.wait_ready().await;
    }

    /// The node's log so far (JSON lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The last lines of a log file, for a failure message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// How a test wants its cluster.
#[derive(Default)]
pub struct ClusterOptions {
    /// Leave the SMTP server down until [`Cluster::start_smtp_taking`].
    pub smtp_down: bool,
    /// Settings for every node, over the defaults here (e.g. a tight rate limit).
    pub env: Vec<(&'static str, &'static str)>,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    /// The balancer's base URL: what clients use.
    pub balancer: String,
    stats: String,
    smtp: SmtpSink,
    /// The test's own connection to the store the nodes share.
    pub store: Arc<dyn Store>,
    haproxy: Mutex<Child>,
    haproxy_log: PathBuf,
    _dir: tempfile::TempDir,
    _db: DbGuard,
    _turn: SemaphorePermit<'static>,
}

impl Cluster {
    /// Three nodes on one store behind HAProxy, all in rotation. `None` when the store or
    /// HAProxy is not available here (the loud line was printed).
    pub async fn start(backend: Backend, options: ClusterOptions) -> Option<Cluster> {
        let haproxy = haproxy_binary()?;
        quiz_llm::install_crypto_provider();
        assert!(
            matches!(backend, Backend::SqliteFile | Backend::Mongo),
            "processes share a SQLite file or MongoDB, not an in-memory database"
        );
        let (database_url, db) = database_for(backend)?;
        let turn = ONE_AT_A_TIME.acquire().await.expect("never closed");
        let dir = tempfile::tempdir().expect("temp dir");
        let smtp = SmtpSink::down().await;
        if !options.smtp_down {
            smtp.up();
        }
        let smtp_port = smtp.port();

        let database = match &database_url {
            DatabaseUrl::Sqlite(Some(path)) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Mongo(url) => url.expose_secret().to_owned(),
            DatabaseUrl::Sqlite(None) => unreachable!("checked above"),
        };
        let mut shared: Vec<(String, String)> = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("DATABASE_URL", database),
            ("JWT_SECRET", JWT_SECRET.into()),
            ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
            ("MAIL_RETRY_BASE", "200ms".into()),
            ("PUBLIC_URL", "http://quiz.test".into()),
            // The balancer connects from here; it adds X-Forwarded-For.
            ("TRUSTED_PROXIES", "127.0.0.1".into()),
            ("SHUTDOWN_DRAIN", format!("{}ms", DRAIN.as_millis())),
            // No test reaches the internet.
            ("PWNED_PASSWORDS_URL", "off".into()),
            // argon2's cheapest cost: these tests are about processes, not hashing.
            ("PASSWORD_HASH_MEMORY_KIB", "8".into()),
            ("PASSWORD_HASH_ITERATIONS", "1".into()),
            ("LOG_FORMAT", "json".into()),
            ("RUST_LOG", "info".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        shared.extend(
            RATE_LIMIT_VARS
                .iter()
                .map(|var| (var.to_string(), "100000/1m".to_owned())),
        );
        shared.retain(|(k, _)| !options.env.iter().any(|(var, _)| var == k));
        shared.extend(
            options
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );

        let mut nodes: Vec<Node> = (1..=3)
            .map(|n| {
                let name = format!("node{n}");
                let port = free_port();
                let home = dir.path().join(&name);
                std::fs::create_dir_all(&home).expect("node folder");
                let mut env = shared.clone();
                env.push(("LISTEN_ADDR".into(), format!("127.0.0.1:{port}")));
                // Each node signs its mail, so a test can tell who delivered it.
                env.push((
                    "MAIL_FROM".into(),
                    format!("Quiz {name} <{name}@quiz.test>"),
                ));
                Node {
                    url: format!("http://127.0.0.1:{port}"),
                    log: dir.path().join(format!("{name}.log")),
                    dir: home,
                    name,
                    env,
                    child: None,
                }
            })
            .collect();
        // All at once, as replicas start.
        for node in &mut nodes {
            node.spawn();
        }
        for node in &mut nodes {
            node.wait_ready().await;
        }

        let (lb_port, stats_port) = (free_port(), free_port());
        let haproxy_log = dir.path().join("haproxy.log");
        let log = std::fs::File::create(&haproxy_log).expect("haproxy log");
        let mut command = Command::new(haproxy);
        command
            .args(["-db", "-f", HAPROXY_CFG])
            .env(LB_BIND, format!("127.0.0.1:{lb_port}"))
            .env(LB_STATS_BIND, format!("127.0.0.1:{stats_port}"))
            .env(
                LB_CHECK_INTERVAL,
                format!("{}ms", CHECK_INTERVAL.as_millis()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("haproxy log"))
            .stderr(log)
            .kill_on_drop(true);
        for (i, node) in nodes.iter().enumerate() {
            let addr = node.url.trim_start_matches("http://");
            command.env(format!("{LB_NODE}{}", i + 1), addr);
        }
        let haproxy = command.spawn().expect("start haproxy");
        let store = quiz_llm::store::connect(&database_url)
            .await
            .expect("the test's own connection to the shared store");
        let cluster = Cluster {
            nodes,
            balancer: format!("http://127.0.0.1:{lb_port}"),
            stats: format!("http://127.0.0.1:{stats_port}/stats;csv"),
            smtp,
            store,
            haproxy: Mutex::new(haproxy),
            haproxy_log,
            _dir: dir,
            _db: db,
            _turn: turn,
        };
        for node in 0..3 {
            cluster.wait_in_rotation(node, true).await;
        }
        Some(cluster)
    }

    /// Each server's state as HAProxy sees it (`UP`, `DOWN`, `UP 1/2`, …), by node name.
    pub async fn balancer_view(&self) -> HashMap<String, String> {
        let Ok(response) = reqwest::get(&self.stats).await else {
            return HashMap::new();
        };
        let csv = response.text().await.unwrap_or_default();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(proxy), Some(server), Some(status)) =
            (column("pxname"), column("svname"), column("status"))
        else {
            return HashMap::new();
        };
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|row| row.get(proxy) == Some(&"servers"))
            .filter_map(|row| Some((row.get(server)?.to_string(), row.get(status)?.to_string())))
            .collect()
    }

    /// Waits until the balancer has node `index` fully in rotation (`up`) or out of it.
    pub async fn wait_in_rotation(&self, index: usize, up: bool) {
        let name = &self.nodes[index].name;
        let want = if up { "UP" } else { "DOWN" };
        let deadline = Instant::now() + BALANCER_TIMEOUT;
        loop {
            let view = self.balancer_view().await;
            if view.get(name).is_some_and(|s| s == want) {
                return;
            }
            if let Ok(Some(status)) = self.haproxy.lock().unwrap().try_wait() {
                panic!("haproxy exited with {status}:\n{}", tail(&self.haproxy_log));
            }
            assert!(
                Instant::now() < deadline,
                "the balancer did not see {name} {want} within {BALANCER_TIMEOUT:?}: {view:?}\n{}",
                tail(&self.haproxy_log)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Brings up the SMTP server a cluster made with `smtp_down` held down, taking `per_message`
    /// to accept each message.
    pub fn start_smtp_taking(&self, per_message: Duration) {
        self.smtp.take(per_message);
        self.smtp.up();
    }

    /// Every message the SMTP server received, decoded for reading (quoted-printable undone).
    pub fn mails(&self) -> Vec<Mail> {
        self.smtp
            .messages()
            .iter()
            .map(|raw| Mail::parse(raw))
            .collect()
    }

    /// Waits (up to 15 s) for a message to `to`, and returns the newest.
    pub async fn wait_for_mail(&self, to: &str) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(mail) = self.mails().into_iter().rev().find(|m| m.to.contains(to)) {
                return mail;
            }
            assert!(Instant::now() < deadline, "no e-mail to {to}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signs up through `via` (the balancer or a node), confirms with the e-mailed link, which
    /// logs in; returns the logged-in browser, talking to `via`. Its cookies go to every port of
    /// 127.0.0.1, as a browser's do, so [`Client::at`] takes the session to another node.
    pub async fn new_user(&self, username: &str, via: &str) -> Client {
        let browser = Client::new(via);
        let email = format!("{username}@example.com");
        browser.sign_up(username, &email, PASSWORD).await.ok();
        let link = self.wait_for_mail(&email).await.link();
        browser.verify_email(&link.uid, &link.token).await.ok();
        browser
    }

    /// How many lines of all the nodes' logs contain every one of `needles`.
    pub fn log_lines_with(&self, needles: &[&str]) -> usize {
        self.nodes
            .iter()
            .map(|n| {
                n.log()
                    .lines()
                    .filter(|l| needles.iter().all(|needle| l.contains(needle)))
                    .count()
            })
            .sum()
    }
}

impl Drop for Cluster {
    /// On failure, shows what the processes said.
    fn drop(&mut self) {
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!("--- {} (last lines) ---\n{}", node.name, tail(&node.log));
            }
            eprintln!("--- haproxy (last lines) ---\n{}", tail(&self.haproxy_log));
        }
    }
}

/// One e-mail as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipient's address alone.
    pub to: String,
    /// The sender as written (the display name says which node sent it).
    pub from: String,
    /// The whole message with quoted-printable soft breaks and escapes undone.
    pub text: String,
}

impl Mail {
    fn parse(raw: &str) -> Mail {
        let header = |name: &str| {
            raw.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let decoded = quoted_printable::decode(raw, quoted_printable::ParseMode::Robust)
            .unwrap_or_else(|_| raw.as_bytes().to_vec());
        let to = header("To:");
        Mail {
            to: to
                .parse::<lettre::message::Mailbox>()
                .map_or(to, |m| m.email.to_string()),
            from: header("From:"),
            text: String::from_utf8_lossy(&decoded).into_owned(),
        }
    }

    /// The e-mail's verification link.
    pub fn link(&self) -> Link {
        Link::find_in(&self.text).unwrap_or_else(|| panic!("no link in e-mail:\n{}", self.text))
    }
}

impl Client {
    /// The same browser (cookie jar and bearer token), talking to another server.
    pub fn at(&self, base_url: &str) -> Client {
        Client {
            base_url: base_url.to_owned(),
            ..self.clone()
        }
    }
}

/// What one request of a [`Load`] came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub started: Instant,
    /// `None` when it succeeded: HTTP 200 and no GraphQL errors.
    pub error: Option<String>,
}

/// Steady traffic through the balancer: one task per logged-in browser, each reading `me` and
/// refreshing its session every eighth request, until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<Vec<Outcome>>>,
}

/// Between two requests of one browser: a steady load, not a flood that starves the health
/// checks on two cores.
const PACE: Duration = Duration::from_millis(5);

impl Load {
    pub fn start(browsers: &[Client]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = browsers
            .iter()
            .cloned()
            .map(|browser| {
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let query = if n.is_multiple_of(8) {
                            "mutation { refreshToken { accessTokenExpiresAt } }"
                        } else {
                            "{ me { username } }"
                        };
                        let started = Instant::now();
                        let error = attempt(&browser, query).await.err();
                        outcomes.push(Outcome { started, error });
                        tokio::time::sleep(PACE).await;
                    }
                    outcomes
                })
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops the traffic and returns every request's outcome.
    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.expect("a load task panicked"));
        }
        all
    }
}

/// One request that must succeed; the error says how it did not.
async fn attempt(browser: &Client, query: &str) -> Result<(), String> {
    let response = browser
        .http
        .post(format!("{}/graphql", browser.base_url))
        .json(&json!({ "query": query }))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("{e:#}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("HTTP {status}, body not JSON: {e}"))?;
    if status != 200 || body.get("errors").is_some() {
        return Err(format!("HTTP {status}: {body}"));
    }
    Ok(())
}
