//! Measures whether `resendVerificationEmail` and `requestPasswordReset` take as long for a
//! registered address as for an unknown one (they must not reveal which addresses exist):
//!
//! ```sh
//! cargo run --release --example reveal_timing -- [ROUNDS]
//! ```
//!
//! Starts the server in-process on an in-memory SQLite store with the file mailer, adds one
//! inactive and one active account, then asks each mutation ROUNDS times (default 500) for the
//! registered address and for an unknown one, alternating, over one keep-alive connection, and
//! prints the medians and 90th percentiles of the response times.

use std::time::{Duration, Instant};

use anyhow::Context;
use quiz_llm::{
    Application, Settings,
    config::SecretString,
    domain::{EmailAddress, Username},
    domain::{PasswordHash, UserId, UserRecord},
    store::DatabaseUrl,
};
use serde_json::json;

use quiz_llm::store::StoreFixtures;

fn user(name: &str, active: bool) -> UserRecord {
    let username = Username::from_stored(name.to_owned());
    let email = EmailAddress::from_stored(format!("{name}@example.com"));
    UserRecord {
        id: UserId::new_random(),
        username_norm: username.key(),
        username,
        credentials: Some(quiz_llm::domain::Credentials {
            email_norm: email.key(),
            email,
            password_hash: PasswordHash::new("unused".into()),
        }),
        is_active: active,
        created_at: chrono::Utc::now(),
        locale: Default::default(),
        disabled: false,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("ROUNDS must be a number")?,
        None => 500,
    };
    let mail = tempfile::tempdir()?;
    let mut config = Settings::defaults();
    config.server.listen_addr = "127.0.0.1:0".parse()?;
    config.store.database_url = DatabaseUrl::Sqlite(None);
    config.auth.jwt_secret = Some(SecretString::from(
        "timing-secret-timing-secret-timing-secret",
    ));
    config.mail.mail_dir = mail.path().to_owned();
    let unlimited = "100000000/1m".parse().expect("a valid rate");
    config.auth.rate_limits.mail_per_address = unlimited;
    config.auth.rate_limits.mail_per_client = unlimited;
    let app = Application::build(config).await?;
    let url = format!("http://{}/graphql", app.local_addr());
    let store = app.store();
    store.insert_user(&user("pending", false)).await?;
    store.insert_user(&user("member", true)).await?;
    tokio::spawn(app.run_until(std::future::pending()));

    let http = reqwest::Client::new();
    let ask = async |mutation: &str, email: &str| -> anyhow::Result<Duration> {
        let body = json!({
            "query": format!("mutation($e: String!) {{ {mutation}(email: $e) }}"),
            "variables": { "e": email },
        });
        let started = Instant::now();
        let reply: serde_json::Value = http.post(&url).json(&body).send().await?.json().await?;
        let took = started.elapsed();
        anyhow::ensure!(reply["data"][mutation] == true, "unexpected reply {reply}");
        Ok(took)
    };
    println!("{rounds} rounds each; times in ms\n");
    println!("mutation                  address     median     p90");
    for (mutation, known) in [
        ("resendVerificationEmail", "pending@example.com"),
        ("requestPasswordReset", "member@example.com"),
    ] {
        // Warm up connections, caches and the allocator before measuring.
        for _ in 0..20 {
            ask(mutation, known).await?;
            ask(mutation, "nobody@example.com").await?;
        }
        let (mut for_known, mut for_unknown) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            for_known.push(ask(mutation, known).await?);
            for_unknown.push(ask(mutation, "nobody@example.com").await?);
        }
        for (label, times) in [("known", &mut for_known), ("unknown", &mut for_unknown)] {
            times.sort();
            println!(
                "{mutation:<25} {label:<9} {:>8.3} {:>7.3}",
                percentile(times, 0.5),
                percentile(times, 0.9)
            );
        }
    }
    Ok(())
}
