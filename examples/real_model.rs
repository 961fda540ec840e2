//! How a real model does as the quiz writer: `generateQuiz` from each of the study texts in
//! `examples/study_texts/` (ten in English, ten in Korean) against an OpenAI-compatible server,
//! through the release server, with a recording proxy in between that sees every reply.
//!
//! ```sh
//! eval "$(scripts/llama-test-server.sh start)"      # llama-server with SmolLM2-135M-Instruct
//! cargo build --release --bin quiz-llm --example real_model
//! target/release/examples/real_model [--questions 3] [--texts 10]
//! ```
//!
//! Per language it prints: quizzes stored (a reply that passed every check) and refused
//! (`LLM_UNAVAILABLE` after the repair round), seconds per `generateQuiz`, the model's tokens per
//! second (llama.cpp's own `timings`, else completion tokens over the request's time), and over
//! all replies the share that was schema-valid JSON (complete, parsed as the reply type) and the
//! share that passed our checks.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::Parser;
use poem::{
    EndpointExt, Route, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::Data,
};
use quiz_llm::quiz::reply::LlmQuiz;
use serde_json::{Value, json};

// Shared with the load benchmark, which uses the memory readings this one does not.
#[allow(dead_code)]
#[path = "support/server.rs"]
mod server;

use server::ServerProcess;

#[derive(Parser)]
#[command(about = "Quiz generation against a real model: speed and reply quality")]
struct Args {
    /// The model server's OpenAI-compatible base URL (ending in /v1).
    #[arg(long, env = "LLM_TEST_URL")]
    llm_url: String,
    /// Questions per quiz.
    #[arg(long, default_value_t = 3)]
    questions: u32,
    /// Study texts per language (at most the ten in each file).
    #[arg(long, default_value_t = 10)]
    texts: usize,
    /// Only this language (`en` or `ko`; repeatable); both without it.
    #[arg(long = "language")]
    languages: Vec<String>,
}

const TEXTS: [(&str, &str); 2] = [
    ("en", include_str!("study_texts/en.txt")),
    ("ko", include_str!("study_texts/ko.txt")),
];

/// One reply of the model, as the proxy saw it.
#[derive(Debug, Clone)]
struct Seen {
    schema_valid: bool,
    completion_tokens: u64,
    seconds: f64,
    /// llama.cpp's own generation speed, when it reports one.
    tokens_per_second: Option<f64>,
}

struct Proxy {
    upstream: String,
    http: reqwest::Client,
    seen: Mutex<Vec<Seen>>,
}

#[handler]
async fn completions(body: Vec<u8>, proxy: Data<&Arc<Proxy>>) -> poem::Response {
    let started = Instant::now();
    let reply = proxy
        .http
        .post(format!("{}/chat/completions", proxy.upstream))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let (status, bytes) = match reply {
        Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
        Err(err) => {
            eprintln!("proxy: the model server did not answer: {err}");
            return poem::Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .finish();
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    if let Ok(reply) = serde_json::from_slice::<Value>(&bytes) {
        let choice = &reply["choices"][0];
        let content = choice["message"]["content"].as_str().unwrap_or_default();
        let complete = choice["finish_reason"] != "length";
        proxy.seen.lock().unwrap().push(Seen {
            schema_valid: complete && serde_json::from_str::<LlmQuiz>(content).is_ok(),
            completion_tokens: reply["usage"]["completion_tokens"].as_u64().unwrap_or(0),
            seconds,
            tokens_per_second: reply["timings"]["predicted_per_second"].as_f64(),
        });
    }
    poem::Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY))
        .content_type("application/json")
        .body(bytes.to_vec())
}

/// What one language's run came to.
#[derive(Default)]
struct Tally {
    stored: usize,
    refused: usize,
    other: Vec<String>,
    seconds: Vec<f64>,
    replies: Vec<Seen>,
    /// Replies that passed every check: the last of each stored quiz.
    passed: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    quiz_llm::install_crypto_provider();
    let probe = reqwest::get(format!("{}/models", args.llm_url)).await;
    if !probe.is_ok_and(|r| r.status().is_success()) {
        bail!(
            "no model server answers at {}; start one: eval \"$(scripts/llama-test-server.sh start)\"",
            args.llm_url
        );
    }

    let proxy = Arc::new(Proxy {
        upstream: args.llm_url.trim_end_matches('/').to_owned(),
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(600))
            .build()?,
        seen: Mutex::new(Vec::new()),
    });
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let proxy_addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .context("the proxy has no address")?;
    let app = Route::new()
        .at("/v1/chat/completions", post(completions))
        .data(proxy.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));

    let dir = tempfile::tempdir()?;
    let env: Vec<(String, String)> = [
        ("LISTEN_ADDR", "{listen}".to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("quiz.db").display()),
        ),
        ("MAIL_DIR", dir.path().join("mail").display().to_string()),
        (
            "JWT_SECRET",
            "real-model-benchmark-secret-real-model-0123".to_owned(),
        ),
        ("PWNED_PASSWORDS_URL", "off".to_owned()),
        ("LLM_BASE_URL", format!("http://{proxy_addr}/v1")),
        ("LLM_MODEL", "smollm2".to_owned()),
        ("LLM_TIMEOUT", "300s".to_owned()),
        ("RATE_LIMIT_GENERATE_PER_USER", "100000/1m".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let server = ServerProcess::start(dir.path(), &env).await?;
    let http = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .timeout(Duration::from_secs(1800))
        .build()?;
    let graphql = format!("{}/graphql", server.base_url);
    let gql = |query: &'static str, variables: Value| {
        let (http, graphql) = (http.clone(), graphql.clone());
        async move {
            let reply: Value = http
                .post(&graphql)
                .json(&json!({ "query": query, "variables": variables }))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(reply)
        }
    };
    let guest = gql("mutation { startGuestSession { user { id } } }", json!({})).await?;
    if guest.get("errors").is_some() {
        bail!("startGuestSession failed: {guest}");
    }

    println!(
        "{} question(s) per quiz, {} text(s) per language, model server {}",
        args.questions, args.texts, args.llm_url
    );
    let mut tallies = Vec::new();
    for (language, file) in TEXTS {
        if !args.languages.is_empty() && !args.languages.iter().any(|l| l == language) {
            continue;
        }
        let mut tally = Tally::default();
        for (i, text) in file.split("\n\n").take(args.texts).enumerate() {
            let before = proxy.seen.lock().unwrap().len();
            // A slow model outlasts the access token: refresh it (as a client would) first.
            let refreshed = gql(
                "mutation { refreshToken { accessTokenExpiresAt } }",
                json!({}),
            )
            .await?;
            if refreshed.get("errors").is_some() {
                bail!("refreshToken failed: {refreshed}");
            }
            let started = Instant::now();
            let reply = gql(
                "mutation($i: GenerateQuizInput!) { generateQuiz(input: $i) { id source questionCount } }",
                json!({ "i": {
                    "topic": format!("Study text {}", i + 1),
                    "sourceText": text.trim(),
                    "questionCount": args.questions,
                    "choiceCount": 4,
                    "language": language,
                } }),
            )
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            tally.seconds.push(seconds);
            let replies: Vec<Seen> = proxy.seen.lock().unwrap()[before..].to_vec();
            let code = reply["errors"][0]["extensions"]["code"].as_str();
            let outcome = match code {
                None => {
                    tally.stored += 1;
                    tally.passed += 1;
                    "stored".to_owned()
                }
                Some("LLM_UNAVAILABLE") => {
                    tally.refused += 1;
                    "LLM_UNAVAILABLE".to_owned()
                }
                Some(other) => {
                    tally.other.push(other.to_owned());
                    other.to_owned()
                }
            };
            println!(
                "{language} #{:<2} {seconds:>6.1} s, {} repl{}, {outcome}",
                i + 1,
                replies.len(),
                if replies.len() == 1 { "y" } else { "ies" }
            );
            tally.replies.extend(replies);
        }
        tallies.push((language, tally));
    }

    println!();
    println!(
        "| language | quizzes | stored | LLM_UNAVAILABLE | other | s/quiz (mean) | s/quiz (max) | tok/s | replies | schema-valid | passed checks |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (language, t) in &tallies {
        let n = t.seconds.len().max(1) as f64;
        let mean = t.seconds.iter().sum::<f64>() / n;
        let max = t.seconds.iter().copied().fold(0.0, f64::max);
        let speeds: Vec<f64> = t
            .replies
            .iter()
            .filter_map(|r| r.tokens_per_second)
            .collect();
        let tok_s = if speeds.is_empty() {
            let tokens: u64 = t.replies.iter().map(|r| r.completion_tokens).sum();
            let secs: f64 = t.replies.iter().map(|r| r.seconds).sum();
            tokens as f64 / secs.max(f64::EPSILON)
        } else {
            speeds.iter().sum::<f64>() / speeds.len() as f64
        };
        let replies = t.replies.len().max(1) as f64;
        let valid = t.replies.iter().filter(|r| r.schema_valid).count() as f64;
        println!(
            "| {language} | {} | {} | {} | {} | {mean:.1} | {max:.1} | {tok_s:.1} | {} | {:.0}% | {:.0}% |",
            t.seconds.len(),
            t.stored,
            t.refused,
            t.other.len(),
            t.replies.len(),
            100.0 * valid / replies,
            100.0 * t.passed as f64 / replies,
        );
    }
    server.stop().await;
    let unexpected: Vec<&String> = tallies.iter().flat_map(|(_, t)| &t.other).collect();
    if !unexpected.is_empty() {
        bail!("outcomes the documentation does not name: {unexpected:?}");
    }
    Ok(())
}
