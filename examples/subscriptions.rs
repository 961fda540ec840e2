//! Benchmark of live subscriptions: memory held by idle subscriptions, and how long a change
//! takes to reach a subscriber.
//!
//! ```sh
//! cargo build --release --bin quiz-llm --example subscriptions
//! cargo run --release --example subscriptions -- [--subscriptions 1000] [--jobs 50] [--events 40]
//! ```
//!
//! It starts the release server as a child process on a temporary SQLite file (so its memory is
//! measured alone), signs up `USERS` users through the API (reading their links from the file
//! mailer), and opens `--subscriptions` WebSockets (`graphql-transport-ws`), each running one
//! `quizEvents` subscription, spread over the users. It prints the server's RSS before and with
//! them, and fails (status 1) above 100 MiB.
//!
//! Latency, with all of those held: `--jobs` offline generation jobs are queued at once (one
//! worker, so they wait their turn) and watched with `quizGeneration`; every change after a
//! watch's first message is timed from the change (`updatedAt`) to its arrival. Each finished
//! job's `QUIZ_CREATED` also reaches the 1/`USERS` of the idle subscriptions that belong to its
//! owner (timed from the event's `at`). Then a second server process opens on the same file,
//! `--events` quizzes are generated on the first, and their events are timed on a subscriber of
//! the second, which hears of them by polling the store (`LIVE_POLL_INTERVAL`). Times come from
//! one clock at millisecond resolution.

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use clap::Parser;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

#[path = "support/server.rs"]
mod server;
use server::ServerProcess;

const USERS: usize = 10;
const PASSWORD: &str = "correct horse battery staple";
const RSS_TARGET_MIB: f64 = 100.0;
const CONNECT_CONCURRENCY: usize = 32;
const APOLLO_11: &str = include_str!("../tests/fixtures/apollo11.txt");

#[derive(Parser)]
struct Args {
    /// Idle subscriptions to hold (one WebSocket each).
    #[arg(long, default_value_t = 1000)]
    subscriptions: usize,
    /// Generation jobs to watch for the job latency.
    #[arg(long, default_value_t = 50)]
    jobs: usize,
    /// Quizzes generated on one process and heard on another.
    #[arg(long, default_value_t = 40)]
    events: usize,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where the arrivals' delays go: one list per figure.
#[derive(Default)]
struct Delays(Mutex<HashMap<&'static str, Vec<f64>>>);

impl Delays {
    async fn record(&self, what: &'static str, since: &str) {
        if let Ok(at) = DateTime::parse_from_rfc3339(since) {
            let ms = (Utc::now() - at.with_timezone(&Utc))
                .num_microseconds()
                .unwrap_or(0);
            let mut all = self.0.lock().await;
            all.entry(what).or_default().push(ms as f64 / 1000.0);
        }
    }

    async fn report(&self, what: &'static str) -> Option<(usize, f64, f64)> {
        let mut all = self.0.lock().await;
        let values = all.get_mut(what)?;
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Some((values.len(), at(0.5), at(0.99)))
    }
}

async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let body: Value = req.send().await?.json().await?;
    if let Some(errors) = body.get("errors") {
        bail!("{query}: {errors}");
    }
    Ok(body["data"].clone())
}

/// The verification link the file mailer wrote for `email` (waits for it).
async fn verification_link(mail_dir: &Path, email: &str) -> anyhow::Result<(String, String)> {
    for _ in 0..200 {
        for entry in std::fs::read_dir(mail_dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if entry.path().extension().is_none_or(|e| e != "txt") || !text.contains(email) {
                continue;
            }
            if let Some(url) = text
                .split_whitespace()
                .find(|w| w.contains("/verify-email?"))
            {
                let query = url.split_once('?').map_or("", |(_, q)| q);
                let get = |k: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                        .map(str::to_owned)
                };
                return Ok((get("uid").context("uid")?, get("token").context("token")?));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "no verification e-mail to {email} in {}",
        mail_dir.display()
    )
}

/// Signs a user up through the API and returns an access token.
async fn new_user(
    http: &reqwest::Client,
    base: &str,
    mail_dir: &Path,
    i: usize,
) -> anyhow::Result<String> {
    let (username, email) = (format!("bench{i:02}"), format!("bench{i:02}@example.com"));
    gql(
        http,
        base,
        None,
        "mutation($i: SignUpInput!) { signUp(input: $i) { message } }",
        json!({ "i": { "username": username, "email": email, "password": PASSWORD } }),
    )
    .await?;
    let (uid, token) = verification_link(mail_dir, &email).await?;
    let data = gql(
        http,
        base,
        None,
        "mutation($u: String!, $t: String!) { verifyEmail(uid: $u, token: $t) { accessToken } }",
        json!({ "u": uid, "t": token }),
    )
    .await?;
    Ok(data["verifyEmail"]["accessToken"]
        .as_str()
        .context("token")?
        .to_owned())
}

/// An acknowledged socket with subscription `id` running `query`.
async fn subscribe(
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql", base.replacen("http", "ws", 1)).into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    let send = |v: Value| Message::text(v.to_string());
    ws.send(send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.contains("connection_ack") => {}
        other => bail!("no connection_ack: {other:?}"),
    }
    ws.send(send(json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }))).await?;
    Ok(ws)
}

/// Reads `ws` until it completes (or closes), passing each `next` payload to `on`.
async fn read(mut ws: Socket, mut on: impl AsyncFnMut(usize, &Value)) {
    let mut n = 0;
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match value["type"].as_str() {
            Some("next") => {
                on(n, &value["payload"]).await;
                n += 1;
            }
            Some("ping") => {
                let _ = ws.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            Some("complete") => return,
            _ => {}
        }
    }
}

fn rss(server: &ServerProcess) -> f64 {
    server.memory().map_or(f64::NAN, |m| m.rss_mib)
}

fn print_delays(title: &str, figure: Option<(usize, f64, f64)>) {
    match figure {
        Some((n, p50, p99)) => println!("{title:<58} {n:>6}  p50 {p50:>7.1} ms  p99 {p99:>7.1} ms"),
        None => println!("{title:<58} none arrived"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    quiz_llm::install_crypto_provider();
    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("bench.db");
    let env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", format!("sqlite://{}", db.display())),
            ("LISTEN_ADDR", "{listen}".into()),
            (
                "JWT_SECRET",
                "subscription-benchmark-secret-subscription-benchmark".into(),
            ),
            ("MAIL_DIR", tmp.path().join("mail").display().to_string()),
            ("RUST_LOG", "warn".into()),
            // Every socket comes from this address and a few users: the stream caps make room,
            // and the streams' share of the connections leaves the usual share to requests.
            (
                "HTTP_MAX_CONNECTIONS",
                (2 * (args.subscriptions + args.jobs) + 256).to_string(),
            ),
            ("SUBSCRIPTIONS_PER_USER", args.subscriptions.to_string()),
            (
                "STREAMS_PER_USER",
                (args.subscriptions + args.jobs).to_string(),
            ),
            (
                "STREAMS_PER_ADDRESS",
                (args.subscriptions + args.jobs + 64).to_string(),
            ),
            ("GENERATION_CONCURRENCY", "1".into()),
            (
                "GENERATION_MAX_ACTIVE_PER_USER",
                (args.jobs + 1).to_string(),
            ),
            ("RATE_LIMIT_SIGNUP_PER_CLIENT", "1000/1m".into()),
            ("RATE_LIMIT_MAIL_PER_CLIENT", "1000/1m".into()),
            ("RATE_LIMIT_GENERATE_PER_USER", "100000/1m".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    };
    let first = ServerProcess::start(tmp.path(), &env(&[])).await?;
    let base = first.base_url.clone();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut tokens = Vec::new();
    for i in 0..USERS {
        tokens.push(new_user(&http, &base, &tmp.path().join("mail"), i).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(&first);

    // Idle subscriptions, spread over the users.
    let delays = Arc::new(Delays::default());
    let started = std::time::Instant::now();
    let sockets: Vec<Socket> = stream::iter(0..args.subscriptions)
        .map(|i| {
            let (base, token) = (base.clone(), tokens[i % USERS].clone());
            async move {
                subscribe(
                    &base,
                    &token,
                    "subscription { quizEvents { kind quizId at } }",
                    json!({}),
                )
                .await
            }
        })
        .buffered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held = rss(&first);
    println!(
        "{} idle quizEvents subscriptions opened in {opened:.1?}",
        sockets.len()
    );
    println!(
        "server RSS: {before:.1} MiB before, {held:.1} MiB with them ({:.1} KiB each)",
        (held - before) * 1024.0 / sockets.len() as f64
    );
    for (i, ws) in sockets.into_iter().enumerate() {
        let delays = delays.clone();
        let owner0 = i % USERS == 0;
        tokio::spawn(read(ws, async move |_, payload: &Value| {
            if owner0 {
                delays
                    .record(
                        "idle",
                        payload["data"]["quizEvents"]["at"].as_str().unwrap_or(""),
                    )
                    .await;
            }
        }));
    }

    // Job changes to their watchers, on the process that made them.
    let input = json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 5, "choiceCount": 4 });
    let mut ids = Vec::new();
    for _ in 0..args.jobs {
        let data = gql(
            &http,
            &base,
            Some(&tokens[0]),
            "mutation($i: GenerateQuizInput!) { startQuizGeneration(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await?;
        ids.push(
            data["startQuizGeneration"]["id"]
                .as_str()
                .context("id")?
                .to_owned(),
        );
    }
    let watchers: Vec<_> = stream::iter(ids)
        .map(|id| {
            let (base, token, delays) = (base.clone(), tokens[0].clone(), delays.clone());
            async move {
                let ws = subscribe(
                    &base,
                    &token,
                    "subscription($id: ID!) { quizGeneration(jobId: $id) { status updatedAt } }",
                    json!({ "id": id }),
                )
                .await?;
                anyhow::Ok(tokio::spawn(read(ws, async move |n, payload: &Value| {
                    // The first message is the state at subscription time, not a change.
                    if n > 0 {
                        delays
                            .record(
                                "job",
                                payload["data"]["quizGeneration"]["updatedAt"]
                                    .as_str()
                                    .unwrap_or(""),
                            )
                            .await;
                    }
                })))
            }
        })
        .buffered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    for watcher in watchers {
        tokio::time::timeout(Duration::from_secs(120), watcher?)
            .await
            .context("a job did not finish")??;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_jobs = rss(&first);

    // Events across processes: generated on the first, heard on the second by polling.
    let second = ServerProcess::start(tmp.path(), &env(&[])).await?;
    let remote = subscribe(
        &second.base_url,
        &tokens[1],
        "subscription { quizEvents { kind quizId at } }",
        json!({}),
    )
    .await?;
    let remote_delays = delays.clone();
    tokio::spawn(read(remote, async move |_, payload: &Value| {
        remote_delays
            .record(
                "remote",
                payload["data"]["quizEvents"]["at"].as_str().unwrap_or(""),
            )
            .await;
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..args.events {
        gql(
            &http,
            &base,
            Some(&tokens[1]),
            "mutation($i: GenerateQuizInput!) { generateQuiz(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(97)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    println!();
    print_delays(
        "job change -> quizGeneration watcher (same process)",
        delays.report("job").await,
    );
    print_delays(
        &format!(
            "QUIZ_CREATED -> idle quizEvents of its owner ({} subs)",
            args.subscriptions / USERS
        ),
        delays.report("idle").await,
    );
    print_delays(
        "QUIZ_CREATED -> quizEvents on another process (polling)",
        delays.report("remote").await,
    );
    let peak = first.memory().map_or(f64::NAN, |m| m.peak_mib);
    println!("server RSS after the jobs: {with_jobs:.1} MiB (peak {peak:.1} MiB)");
    second.stop().await;
    first.stop().await;
    ensure!(
        held < RSS_TARGET_MIB,
        "FAILED: {held:.1} MiB with {} idle subscriptions; the target is under {RSS_TARGET_MIB} MiB",
        args.subscriptions
    );
    println!(
        "OK: {} idle subscriptions held in {held:.1} MiB (target: under {RSS_TARGET_MIB} MiB)",
        args.subscriptions
    );
    Ok(())
}
