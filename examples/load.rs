//! Load benchmark for the GraphQL API, run from one command:
//!
//! ```sh
//! cargo build --release --bin quiz-llm --example load --example quizzes_ceiling
//! cargo run --release --example load -- [--connections 32] [--duration 10s]
//! cargo run --release --example load -- --memory    # 10,000 users, 30,000 quizzes: server RSS
//! ```
//!
//! Without `--url`, it seeds a fresh SQLite file through the library's store (one argon2id hash
//! shared by every user, so seeding takes seconds), starts the release server on it as a child
//! process (so `/proc/<pid>/status` shows the server's memory alone), runs each scenario with N
//! keep-alive connections, each logged in as its own user, and stops the server.
//!
//! `--seed-only PATH` only seeds a database and prints how to start a server on it; `--url` then
//! runs the scenarios against that server (seeded for at least as many connections, started with
//! generous rate limits). Only servers on this machine are accepted. `--only SCENARIO` runs just
//! those scenarios (no ceiling, storm or targets), and `--server-pid` lets a `--url` run measure
//! that server's CPU and memory, as `scripts/bench-peers.sh` does.
//!
//! Reading the table: when the server and this load generator share a small machine, req/s and
//! its ratio to `{ __typename }` measure both together (for `{ __typename }` the generator is
//! usually the limit); `µs/req`, the server's CPU time per request, is the server's own cost.

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail, ensure};
use chrono::{DateTime, Utc};
use clap::Parser;
use futures_util::{StreamExt, TryStreamExt, future::join_all, stream};
use quiz_llm::{
    auth::password::{HashCost, Hasher, Password},
    domain::{
        AnswerType, ChoiceRecord, Credentials, Difficulty, PasswordHash, QuestionRecord, QuizId,
        QuizRecord, QuizSource, SourcePassageRecord, UserId, UserRecord,
    },
    domain::{EmailAddress, Username},
    store::{self, DatabaseUrl, Store, StoreFixtures, StoreResult},
};
use serde::{Deserialize, de::IgnoredAny};

#[path = "support/server.rs"]
mod server;
use serde_json::{Value, json};
use server::{Memory, ServerProcess, free_port, memory_of, server_binary};

const PASSWORD: &str = "correct horse battery staple";
const JWT_SECRET: &str = "load-benchmark-secret-load-benchmark-secret";
/// Every rate limit the server has, set far above what a benchmark reaches.
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
const GENEROUS_RATE: &str = "100000/1m";

/// Connections that log in over and over during the login storm, as users of their own.
const STORM_LOGINS: usize = 8;
const QUIZZES_PER_USER: usize = 3;
const QUESTIONS_PER_QUIZ: u32 = 5;
const CHOICES_PER_QUESTION: u32 = 4;

const WARM_UP: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Store writes in flight while seeding.
const SEED_CONCURRENCY: usize = 16;
/// Logins in flight while the connections are set up.
const SETUP_CONCURRENCY: usize = 8;

const MEMORY_USERS: usize = 10_000;
const MEMORY_SESSIONS: usize = 200;
const MEMORY_TARGET_MIB: f64 = 100.0;

const TYPENAME: &str = "{ __typename }";
const ME: &str = "{ me { id username } }";
const QUIZZES: &str = "{ quizzes(first: 20) { totalCount edges { node { id title \
    questions { number content choices { number content } } } } } }";
const REFRESH: &str = "mutation { refreshToken { accessToken } }";
const SUBMIT: &str = "mutation($q: ID!, $a: [AnswerInput!]!) { \
    submitQuizAnswers(quizId: $q, answers: $a) { id correctCount score } }";
const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { user { id } } }";
const QUIZ_IDS: &str = "{ quizzes(first: 3) { edges { node { id } } } }";

#[derive(Parser)]
#[command(about = "Load benchmark for the Quiz LLM server")]
struct Args {
    /// Concurrent keep-alive connections, each logged in as its own user (1 to 1000).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long each scenario is measured, after a 1 s warm-up (at most 10m).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Run against this server (on this machine) instead of starting one; it must use a
    /// database made by `--seed-only` with at least as many connections.
    #[arg(long, conflicts_with_all = ["memory", "seed_only"])]
    url: Option<String>,
    /// Only seed a new SQLite database at PATH and print how to start a server on it.
    #[arg(long, value_name = "PATH", conflicts_with = "memory")]
    seed_only: Option<PathBuf>,
    /// Measure the server's memory with 10,000 users and 30,000 quizzes instead.
    #[arg(long)]
    memory: bool,
    /// An extra variable for the server started here, e.g. `MALLOC_ARENA_MAX=2` (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_env_pair,
          conflicts_with_all = ["url", "seed_only"])]
    server_env: Vec<(String, String)>,
    /// Run only these scenarios (repeatable), without the bare-stack ceiling, the login storm
    /// or the targets: for scripts that set servers side by side (`scripts/bench-peers.sh`).
    #[arg(long, value_enum, value_name = "SCENARIO", conflicts_with_all = ["memory", "seed_only"])]
    only: Vec<Scenario>,
    /// With `--url`: the server's process id on this machine, so that its CPU and memory are
    /// measured as for a server this run started.
    #[arg(long, requires = "url")]
    server_pid: Option<u32>,
}

/// The scenarios `--only` can pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    Typename,
    Me,
    Quizzes,
    RefreshToken,
    SubmitQuizAnswers,
}

fn parse_env_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {raw:?}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        (1..=1000).contains(&args.connections),
        "--connections must be between 1 and 1000"
    );
    ensure!(
        args.duration <= Duration::from_secs(600),
        "--duration must be at most 10m"
    );
    quiz_llm::install_crypto_provider();
    if let Some(path) = &args.seed_only {
        return seed_only(path, args.connections).await;
    }
    if args.memory {
        return memory_mode(&args).await;
    }
    match &args.url {
        Some(url) => benchmark(&loopback_url(url)?, None, &args).await,
        None => {
            let tmp = tempfile::tempdir()?;
            let db = tmp.path().join("load.db");
            let took = seed(&db, args.connections, args.connections).await?;
            println!(
                "seeded {} users in {took:.1?}",
                args.connections + STORM_LOGINS
            );
            let server = start_server(tmp.path(), &db, &args.server_env).await?;
            let result = benchmark(&server.base_url, Some(&server), &args).await;
            server.stop().await;
            result
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Seeding

/// The users the connections log in as: `load00000`, `load00001`, …
fn bench_username(i: usize) -> String {
    format!("load{i:05}")
}

/// The users of the login storm, whatever the number of connections.
fn storm_username(i: usize) -> String {
    format!("storm{i}")
}

/// An active user with the shared password hash.
fn user_record(username: String, hash: &PasswordHash, now: DateTime<Utc>) -> UserRecord {
    // Keyed as sign-up keys them, so logins find them.
    let email = EmailAddress::from_stored(format!("{username}@example.com"));
    let username = Username::from_stored(username);
    UserRecord {
        id: UserId::new_random(),
        credentials: Some(Credentials {
            email_norm: email.key(),
            email,
            password_hash: hash.clone(),
        }),
        username_norm: username.key(),
        username,
        is_active: true,
        created_at: now,
        locale: Default::default(),
        disabled: false,
    }
}

const TOPICS: [&str; 4] = [
    "The Apollo program",
    "Photosynthesis",
    "The French Revolution",
    "Plate tectonics",
];

/// A quiz the size the offline generator makes by default: 5 questions of 4 choices.
fn quiz_record(owner: &UserId, n: usize, created_at: DateTime<Utc>) -> QuizRecord {
    let topic = TOPICS[n % TOPICS.len()];
    let questions = (1..=QUESTIONS_PER_QUIZ)
        .map(|q| QuestionRecord {
            number: q,
            content: format!(
                "Question {q} about {topic}: which of the following terms fills the blank in \
                 the sentence taken from the study text?"
            ),
            answer_type: AnswerType::MultipleChoice,
            choices: (1..=CHOICES_PER_QUESTION)
                .map(|c| ChoiceRecord {
                    number: c,
                    content: format!("{topic} term {c}"),
                    correct: c == (q % CHOICES_PER_QUESTION) + 1,
                })
                .collect(),
            explanation: Some(format!(
                "The study text says so in the sentence about {topic}, term {}.",
                (q % CHOICES_PER_QUESTION) + 1
            )),
            // Offline quizzes keep the sentence each question was cut from.
            accepted_answers: Vec::new(),
            source: Some(SourcePassageRecord {
                excerpt: format!(
                    "The study text says so in the sentence about {topic}, which names term {}.",
                    (q % CHOICES_PER_QUESTION) + 1
                ),
                start: 80 * q,
                end: 80 * q + 72,
                page: None,
            }),
        })
        .collect();
    QuizRecord {
        id: QuizId::new_random(),
        owner: owner.clone(),
        title: format!("{topic} ({})", n + 1),
        description: format!(
            "{QUESTIONS_PER_QUIZ} questions generated from your notes on {topic}."
        ),
        topic: topic.into(),
        difficulty: Difficulty::Medium,
        source: QuizSource::Offline,
        language: "en".into(),
        questions,
        created_at,
    }
}

/// Runs the inserts with [`SEED_CONCURRENCY`] in flight.
async fn insert_all<T, Fut>(
    items: impl Iterator<Item = T>,
    insert: impl Fn(T) -> Fut,
) -> StoreResult<()>
where
    Fut: Future<Output = StoreResult<()>>,
{
    stream::iter(items.map(Ok))
        .try_for_each_concurrent(SEED_CONCURRENCY, insert)
        .await
}

/// Seeds `users` benchmark users (3 quizzes each for the first `with_quizzes`) and the storm
/// users into a new SQLite file; returns how long it took.
async fn seed(path: &Path, users: usize, with_quizzes: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    ensure!(
        !path.exists(),
        "{} already exists; seed a new file",
        path.display()
    );
    let handle = store::connect(&DatabaseUrl::Sqlite(Some(path.to_owned()))).await?;
    let db: &dyn Store = &*handle;
    // The server's default cost, so the login storm measures what production logins cost.
    let hash = Hasher::new(&quiz_llm::config::parse::defaults::<HashCost>())?
        .hash(Password::new(PASSWORD))
        .await
        .map_err(|e| anyhow!("hashing the password failed: {e:?}"))?;
    let now = Utc::now();
    let records: Vec<UserRecord> = (0..users)
        .map(bench_username)
        .chain((0..STORM_LOGINS).map(storm_username))
        .map(|name| user_record(name, &hash, now))
        .collect();
    insert_all(records.iter(), |u| db.insert_user(u)).await?;
    // Distinct times, so "newest first" is well defined.
    let quizzes = records[..with_quizzes]
        .iter()
        .enumerate()
        .flat_map(|(i, u)| {
            (0..QUIZZES_PER_USER).map(move |n| {
                let age = chrono::Duration::milliseconds((i * QUIZZES_PER_USER + n) as i64);
                quiz_record(&u.id, n, now - age)
            })
        });
    insert_all(quizzes, |q| async move { db.insert_quiz(&q).await }).await?;
    Ok(started.elapsed())
}

async fn seed_only(path: &Path, connections: usize) -> anyhow::Result<()> {
    let took = seed(path, connections, connections).await?;
    println!(
        "Seeded {} in {took:.1?}: users {} to {} (3 quizzes each) and {} to {}, all with the \
         password {PASSWORD:?}.\n",
        path.display(),
        bench_username(0),
        bench_username(connections - 1),
        storm_username(0),
        storm_username(STORM_LOGINS - 1),
    );
    let db = std::fs::canonicalize(path)?;
    let mail = db.with_file_name("mail");
    let env: Vec<String> = server_env(&db, &mail, "127.0.0.1:8000")
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let binary = server_binary().map_or_else(
        |_| "target/release/quiz-llm".into(),
        |p| p.display().to_string(),
    );
    println!(
        "Start a server on it:\n\n  {} \\\n  {binary}\n",
        env.join(" \\\n  ")
    );
    println!(
        "Then: cargo run --release --example load -- --url http://127.0.0.1:8000 \
         --connections {connections}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The server, as a child process

/// Starts the release server on `db` with `extra_env` on top of [`server_env`].
async fn start_server(
    dir: &Path,
    db: &Path,
    extra_env: &[(String, String)],
) -> anyhow::Result<ServerProcess> {
    let mut env: Vec<(String, String)> = server_env(db, &dir.join("mail"), "{listen}")
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.extend(extra_env.iter().cloned());
    ServerProcess::start(dir, &env).await
}

/// What the server is started with; everything else is its default.
fn server_env(db: &Path, mail_dir: &Path, listen: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("DATABASE_URL", format!("sqlite://{}", db.display())),
        ("LISTEN_ADDR", listen.to_owned()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("MAIL_DIR", mail_dir.display().to_string()),
        // Reached directly, with no load balancer to drain away from.
        ("SHUTDOWN_DRAIN", "0".to_owned()),
        ("PWNED_PASSWORDS_URL", "off".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    env.extend(RATE_LIMIT_VARS.map(|var| (var, GENEROUS_RATE.to_owned())));
    env
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may itself hold spaces: state is field 3, so
    // utime (14) and stime (15) are the 12th and 13th here.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let ticks: f64 = fields.next()?.parse::<f64>().ok()? + fields.next()?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

// ---------------------------------------------------------------------------------------------
// Connections

/// Refuses anything but this machine: this tool is not for loading other people's servers.
fn loopback_url(raw: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(raw).with_context(|| format!("--url {raw:?}"))?;
    ensure!(
        matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        "--url must point at this machine (127.0.0.1 or localhost)"
    );
    Ok(raw.trim_end_matches('/').to_owned())
}

fn request_body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

/// Only whether there were errors; the rest of the response is skipped, not built.
#[derive(Deserialize)]
struct Envelope {
    errors: Option<Vec<IgnoredAny>>,
}

/// One keep-alive HTTP/1.1 connection with its own cookie jar, logged in as its own user.
struct Conn {
    http: reqwest::Client,
    endpoint: String,
    username: String,
    quiz_ids: Vec<String>,
}

impl Conn {
    fn new(base_url: &str, username: String) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .http1_only()
            .no_proxy()
            .pool_max_idle_per_host(1)
            .connect_timeout(Duration::from_secs(2))
            .timeout(REQUEST_TIMEOUT)
            .user_agent("quiz-llm-load/1.0")
            .build()?;
        Ok(Conn {
            http,
            endpoint: format!("{base_url}/graphql"),
            username,
            quiz_ids: Vec::new(),
        })
    }

    /// A measured request: `Err` with a short reason for a failure, a non-200 status or a
    /// GraphQL `errors` array.
    async fn send(&self, body: String) -> Result<(), String> {
        let resp = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("reading the response failed: {e}"))?;
        let snippet = || String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        if status != reqwest::StatusCode::OK {
            return Err(format!("HTTP {status}: {}", snippet()));
        }
        match serde_json::from_slice::<Envelope>(&bytes) {
            Ok(Envelope { errors: Some(e) }) if !e.is_empty() => Err(snippet()),
            Ok(_) => Ok(()),
            Err(_) => Err(format!("not JSON: {}", snippet())),
        }
    }

    /// A set-up request: its `data`, or an error.
    async fn data(&self, body: String) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let body: Value = resp.json().await?;
        match body.get("errors") {
            Some(errors) => bail!("{} got errors: {errors}", self.username),
            None => Ok(body["data"].clone()),
        }
    }

    fn login_body(&self) -> String {
        request_body(LOGIN, json!({ "u": self.username, "p": PASSWORD }))
    }

    /// Logs in (the `access` cookie lands in the jar) and reads the user's quiz ids.
    async fn open(base_url: &str, username: String) -> anyhow::Result<Self> {
        let mut conn = Conn::new(base_url, username)?;
        conn.data(conn.login_body()).await?;
        let quizzes = conn.data(request_body(QUIZ_IDS, json!({}))).await?;
        conn.quiz_ids = quizzes["quizzes"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["node"]["id"].as_str().map(str::to_owned))
            .collect();
        Ok(conn)
    }
}

/// Logs each user in, [`SETUP_CONCURRENCY`] at a time.
async fn open_all(base_url: &str, usernames: Vec<String>) -> anyhow::Result<Vec<Arc<Conn>>> {
    stream::iter(usernames)
        .map(|name| async move { Conn::open(base_url, name).await.map(Arc::new) })
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await
}

// ---------------------------------------------------------------------------------------------
// The runner

/// Builds the body of a connection's `i`-th request.
type MakeBody = Arc<dyn Fn(&Conn, u64) -> String + Send + Sync>;

fn constant(query: &str) -> MakeBody {
    let body = request_body(query, json!({}));
    Arc::new(move |_, _| body.clone())
}

fn alternating(a: MakeBody, b: MakeBody) -> MakeBody {
    Arc::new(move |c, i| if i % 2 == 0 { a(c, i) } else { b(c, i) })
}

/// All five questions answered, on the connection's quizzes in turn.
fn submit_answers() -> MakeBody {
    Arc::new(|c, i| {
        let quiz = &c.quiz_ids[i as usize % c.quiz_ids.len()];
        let answers: Vec<Value> = (1..=QUESTIONS_PER_QUIZ)
            .map(|q| {
                let choice = (q + i as u32) % CHOICES_PER_QUESTION + 1;
                json!({ "questionNumber": q, "choiceNumber": choice })
            })
            .collect();
        request_body(SUBMIT, json!({ "q": quiz, "a": answers }))
    })
}

fn log_in_again() -> MakeBody {
    Arc::new(|c, _| c.login_body())
}

/// Requests that start in `[counted_from, until)` are counted; warm-up ones are not.
#[derive(Debug, Clone, Copy)]
struct Window {
    counted_from: Instant,
    until: Instant,
}

impl Window {
    fn starting_now(duration: Duration) -> Self {
        let counted_from = Instant::now() + WARM_UP;
        Window {
            counted_from,
            until: counted_from + duration,
        }
    }

    fn measured(&self) -> Duration {
        self.until - self.counted_from
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn record(&mut self, latency: Duration, outcome: Result<(), String>) {
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        if let Err(e) = outcome {
            self.errors += 1;
            self.first_error.get_or_insert(e);
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self
    }
}

/// One connection's loop: sequential requests until the window closes.
async fn drive_one(conn: Arc<Conn>, window: Window, make: MakeBody) -> Tally {
    let mut tally = Tally::default();
    let mut i = 0u64;
    while Instant::now() < window.until {
        let started = Instant::now();
        let outcome = conn.send(make(&conn, i)).await;
        if started >= window.counted_from {
            tally.record(started.elapsed(), outcome);
        }
        i += 1;
    }
    tally
}

/// Every connection in its own task, all in the same window.
async fn drive(conns: &[Arc<Conn>], window: Window, make: &MakeBody) -> Tally {
    let tasks = conns
        .iter()
        .map(|c| tokio::spawn(drive_one(c.clone(), window, make.clone())));
    join_all(tasks)
        .await
        .into_iter()
        .map(|t| t.unwrap_or_default())
        .fold(Tally::default(), Tally::merge)
}

#[derive(Debug, Clone)]
struct Stats {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    first_error: Option<String>,
}

fn stats(mut tally: Tally, window: Window) -> Stats {
    tally.latencies_us.sort_unstable();
    let n = tally.latencies_us.len();
    let pct = |p: f64| -> f64 {
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        f64::from(tally.latencies_us[rank - 1]) / 1000.0
    };
    Stats {
        per_sec: n as f64 / window.measured().as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors: tally.errors,
        first_error: tally.first_error,
    }
}

/// Cores used while the window counted: by the server (when known) and by this process.
#[derive(Debug, Clone, Copy)]
struct CpuUse {
    server: Option<f64>,
    load_generator: Option<f64>,
}

async fn cpu_during(window: Window, server: Option<u32>) -> CpuUse {
    let pid = server.map(|p| p.to_string());
    let read = || (pid.as_deref().and_then(cpu_seconds), cpu_seconds("self"));
    tokio::time::sleep_until(window.counted_from.into()).await;
    let before = read();
    tokio::time::sleep_until(window.until.into()).await;
    let after = read();
    let secs = window.measured().as_secs_f64();
    let cores = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / secs);
    CpuUse {
        server: cores(before.0, after.0),
        load_generator: cores(before.1, after.1),
    }
}

/// One table row.
struct Row {
    name: &'static str,
    stats: Stats,
    cpu: CpuUse,
    memory: Option<Memory>,
}

/// `server`: the process answering, whose CPU and memory are measured (when this run started it).
async fn scenario(
    name: &'static str,
    conns: &[Arc<Conn>],
    make: MakeBody,
    duration: Duration,
    server: Option<u32>,
) -> Row {
    let window = Window::starting_now(duration);
    let (tally, cpu) = tokio::join!(drive(conns, window, &make), cpu_during(window, server));
    Row {
        name,
        stats: stats(tally, window),
        cpu,
        memory: server.and_then(memory_of),
    }
}

/// Logins in a loop on the storm connections while every benchmark connection asks `me`.
struct Storm {
    logins: Stats,
    me: Row,
}

async fn login_storm(
    conns: &[Arc<Conn>],
    stormers: &[Arc<Conn>],
    duration: Duration,
    server: Option<&ServerProcess>,
) -> Storm {
    let (me_body, login_body) = (constant(ME), log_in_again());
    let window = Window::starting_now(duration);
    let (me, logins, cpu) = tokio::join!(
        drive(conns, window, &me_body),
        drive(stormers, window, &login_body),
        cpu_during(window, server.map(|s| s.pid))
    );
    Storm {
        logins: stats(logins, window),
        me: Row {
            name: "me during login storm",
            stats: stats(me, window),
            cpu,
            memory: server.and_then(ServerProcess::memory),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The stack's ceiling for the quizzes shape

const CEILING: &str = "quizzes (bare stack)";

/// `examples/quizzes_ceiling.rs` as a child process, serving from memory the `quizzes` response
/// the real server gave; killed when dropped.
struct Ceiling {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Ceiling {
    async fn start(conn: &Conn) -> anyhow::Result<Ceiling> {
        let response = conn
            .http
            .post(&conn.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request_body(QUIZZES, json!({})))
            .send()
            .await?
            .bytes()
            .await?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("quizzes.json");
        std::fs::write(&path, &response)?;
        let binary = std::env::current_exe()?.with_file_name("quizzes_ceiling");
        ensure!(
            binary.is_file(),
            "{} is missing; build it first: cargo build --release --example quizzes_ceiling",
            binary.display()
        );
        let addr = format!("127.0.0.1:{}", free_port()?);
        let child = std::process::Command::new(&binary)
            .args([addr.as_str(), &path.to_string_lossy()])
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let ceiling = Ceiling {
            child,
            url: format!("http://{addr}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while reqwest::get(format!("{}/healthz", ceiling.url))
            .await
            .is_err()
        {
            ensure!(
                Instant::now() < deadline,
                "the ceiling server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(ceiling)
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async fn benchmark(
    base_url: &str,
    server: Option<&ServerProcess>,
    args: &Args,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let conns = open_all(
        base_url,
        (0..args.connections).map(bench_username).collect(),
    )
    .await
    .context("logging the benchmark users in (was the database seeded for this many?)")?;
    ensure!(
        conns.iter().all(|c| !c.quiz_ids.is_empty()),
        "some benchmark users have no quizzes"
    );
    let stormers: Vec<Arc<Conn>> = (0..STORM_LOGINS)
        .map(|i| Conn::new(base_url, storm_username(i)).map(Arc::new))
        .collect::<anyhow::Result<_>>()?;
    println!(
        "{} connections logged in in {:.1?}; each scenario: {WARM_UP:?} warm-up, then {:?}",
        conns.len(),
        started.elapsed(),
        args.duration
    );
    println!("load average: {}", load_average());

    let scenarios: [(Scenario, &'static str, MakeBody); 5] = [
        (Scenario::Typename, "{ __typename }", constant(TYPENAME)),
        (Scenario::Me, "me", constant(ME)),
        (Scenario::Quizzes, "quizzes(first: 20)", constant(QUIZZES)),
        (Scenario::RefreshToken, "refreshToken", constant(REFRESH)),
        (
            Scenario::SubmitQuizAnswers,
            "submitQuizAnswers",
            submit_answers(),
        ),
    ];
    let pid = server.map(|s| s.pid).or(args.server_pid);
    let mut rows = Vec::new();
    for (which, name, make) in scenarios {
        if !args.only.is_empty() && !args.only.contains(&which) {
            continue;
        }
        let row = scenario(name, &conns, make, args.duration, pid).await;
        eprintln!("  {name}: {:.0} req/s", row.stats.per_sec);
        rows.push(row);
    }
    if !args.only.is_empty() {
        print_table(&rows, None);
        return Ok(());
    }
    let ceiling = Ceiling::start(&conns[0]).await?;
    let anonymous: Vec<Arc<Conn>> = (0..conns.len())
        .map(|i| Conn::new(&ceiling.url, format!("ceiling{i}")).map(Arc::new))
        .collect::<anyhow::Result<_>>()?;
    let row = scenario(
        CEILING,
        &anonymous,
        constant(QUIZZES),
        args.duration,
        Some(ceiling.child.id()),
    )
    .await;
    eprintln!("  {CEILING}: {:.0} req/s", row.stats.per_sec);
    rows.push(row);
    drop(ceiling);
    let storm = login_storm(&conns, &stormers, args.duration, server).await;

    print_table(&rows, Some(&storm));
    print_storm(&rows, &storm);
    print_memory(server.and_then(ServerProcess::memory));
    let met = print_targets(&rows, &storm);
    println!("load average: {}", load_average());
    ensure!(met, "a target was missed (FAIL above)");
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn row<'a>(rows: &'a [Row], name: &str) -> &'a Row {
    rows.iter()
        .find(|r| r.name == name)
        .expect("every scenario ran")
}

fn or_dash(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

fn print_table(rows: &[Row], storm: Option<&Storm>) {
    let typename = rows
        .iter()
        .find(|r| r.name == "{ __typename }")
        .map(|r| r.stats.per_sec);
    println!(
        "\n{:<24} {:>9} {:>8} {:>8} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "×typename",
        "srv CPU",
        "µs/req",
        "gen CPU",
        "RSS MiB"
    );
    for r in rows.iter().chain(storm.map(|s| &s.me)) {
        let s = &r.stats;
        println!(
            "{:<24} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
            r.name,
            s.per_sec,
            s.p50_ms,
            s.p99_ms,
            s.errors,
            or_dash(typename.map(|t| s.per_sec / t), 2),
            or_dash(r.cpu.server, 2),
            or_dash(r.cpu.server.map(|c| c / s.per_sec * 1e6), 0),
            or_dash(r.cpu.load_generator, 2),
            or_dash(r.memory.map(|m| m.rss_mib), 1),
        );
    }
    println!(
        "(srv CPU, gen CPU: cores busy while measuring, in the server and in this load \
         generator; µs/req: server CPU time per request.)"
    );
    for r in rows.iter().chain(storm.map(|s| &s.me)) {
        if let Some(e) = &r.stats.first_error {
            println!("first error in {}: {e}", r.name);
        }
    }
    if let Some(e) = storm.and_then(|s| s.logins.first_error.as_ref()) {
        println!("first error in the storm's logins: {e}");
    }
}

fn print_storm(rows: &[Row], storm: &Storm) {
    let unloaded = &row(rows, "me").stats;
    let during = &storm.me.stats;
    println!(
        "\nlogin storm ({STORM_LOGINS} connections logging in, argon2id): {:.1} logins/s \
         (p50 {:.0} ms, p99 {:.0} ms, {} errors); me during it: {:.0} req/s, p50 {:.2} ms, \
         p99 {:.2} ms vs unloaded p99 {:.2} ms = {:.1}×",
        storm.logins.per_sec,
        storm.logins.p50_ms,
        storm.logins.p99_ms,
        storm.logins.errors,
        during.per_sec,
        during.p50_ms,
        during.p99_ms,
        unloaded.p99_ms,
        during.p99_ms / unloaded.p99_ms
    );
}

fn print_memory(memory: Option<Memory>) {
    match memory {
        Some(m) => println!(
            "\nserver memory: RSS {:.1} MiB now, peak {:.1} MiB",
            m.rss_mib, m.peak_mib
        ),
        None => println!("\nserver memory: unknown (the server was not started by this run)"),
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

/// Prints each target with PASS or FAIL; true when all were met.
fn print_targets(rows: &[Row], storm: &Storm) -> bool {
    let ceiling = rows[0].stats.per_sec;
    let mut met = true;
    let mut check = |pass: bool| {
        met &= pass;
        verdict(pass)
    };
    println!("\ntargets:");
    for (name, at_least) in [("me", 0.6), ("refreshToken", 0.2)] {
        let ratio = row(rows, name).stats.per_sec / ceiling;
        println!(
            "  {:<40} {ratio:>6.2}×  {}",
            format!("{name} ≥ {at_least} × typename"),
            check(ratio >= at_least)
        );
    }
    let ratio = row(rows, "quizzes(first: 20)").stats.per_sec / row(rows, CEILING).stats.per_sec;
    println!(
        "  {:<40} {ratio:>6.2}×  {}",
        "quizzes ≥ 0.85 × the in-memory ceiling",
        check(ratio >= 0.85)
    );
    let errors: u64 = rows
        .iter()
        .map(|r| r.stats.errors)
        .chain([storm.me.stats.errors, storm.logins.errors])
        .sum();
    println!(
        "  {:<40} {errors:>7}  {}",
        "zero errors",
        check(errors == 0)
    );
    let ratio = storm.me.stats.p99_ms / row(rows, "me").stats.p99_ms;
    println!(
        "  {:<40} {ratio:>6.1}×  {}",
        "storm me-p99 ≤ 3 × unloaded me-p99",
        check(ratio <= 3.0)
    );
    met
}

// ---------------------------------------------------------------------------------------------
// Memory mode

async fn memory_mode(args: &Args) -> anyhow::Result<()> {
    let duration = args.duration;
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("memory.db");
    println!(
        "seeding {MEMORY_USERS} users and {} quizzes ({QUESTIONS_PER_QUIZ} questions × \
         {CHOICES_PER_QUESTION} choices)…",
        MEMORY_USERS * QUIZZES_PER_USER
    );
    let took = seed(&db, MEMORY_USERS, MEMORY_USERS).await?;
    let size = std::fs::metadata(&db).map_or(0, |m| m.len()) as f64 / 1_048_576.0;
    println!("seeded in {took:.1?} (database file {size:.1} MiB)");
    let server = start_server(tmp.path(), &db, &args.server_env).await?;
    print_rss("idle", &server);

    let step = MEMORY_USERS / MEMORY_SESSIONS;
    let sample = (0..MEMORY_SESSIONS)
        .map(|i| bench_username(i * step))
        .collect();
    let started = Instant::now();
    let conns = open_all(&server.base_url, sample).await?;
    println!(
        "{} users logged in in {:.1?}",
        conns.len(),
        started.elapsed()
    );
    print_rss("after the logins", &server);

    let mixed = alternating(constant(ME), constant(QUIZZES));
    let row = scenario("me + quizzes", &conns, mixed, duration, Some(server.pid)).await;
    let s = &row.stats;
    println!(
        "{} connections, me and quizzes(first: 20) alternating for {duration:?}: {:.0} req/s, \
         p50 {:.2} ms, p99 {:.2} ms, {} errors, server CPU {} cores",
        conns.len(),
        s.per_sec,
        s.p50_ms,
        s.p99_ms,
        s.errors,
        or_dash(row.cpu.server, 2)
    );
    if let Some(e) = &s.first_error {
        println!("first error: {e}");
    }
    print_rss("after the load", &server);
    let met = match server.memory() {
        Some(m) => {
            let met = m.peak_mib < MEMORY_TARGET_MIB;
            println!(
                "\ntarget: peak RSS {:.1} MiB < {MEMORY_TARGET_MIB} MiB  {}",
                m.peak_mib,
                verdict(met)
            );
            met
        }
        None => {
            println!("\ntarget: peak RSS < {MEMORY_TARGET_MIB} MiB  FAIL (not measurable here)");
            false
        }
    };
    println!("load average: {}", load_average());
    server.stop().await;
    ensure!(met, "the memory target was missed");
    Ok(())
}

fn print_rss(when: &str, server: &ServerProcess) {
    if let Some(m) = server.memory() {
        println!(
            "server RSS {when}: {:.1} MiB (peak {:.1} MiB)",
            m.rss_mib, m.peak_mib
        );
    }
}
