//! Password guessing and its limits: per account and per client, behind trusted proxies, across
//! processes, and a stranger who cannot lock the owner out.

use crate::common;

use common::{Backend, PASSWORD, TestApp, retry_after, two_processes_with};
use serde_json::{Value, json};

on_every_store!(limits_hold_across_processes);

#[tokio::test]
async fn forty_wrong_passwords_are_cut_off() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        // Refilling one attempt per 6 minutes: slow logins on a busy machine never see a refill.
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("fortress").await;
    let attacker = app.client();
    let mut limited = 0;
    for i in 0..40 {
        let r = attacker
            .login("fortress", &format!("guess number {i}"))
            .await;
        match r.code() {
            "INVALID_CREDENTIALS" => assert!(i < 10, "attempt {i} was not limited"),
            "RATE_LIMITED" => {
                assert!(retry_after(&r) >= 1);
                limited += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(limited, 30);
    // Even the right password waits now, and e-mail spelling does not dodge the account limit.
    assert_eq!(
        attacker.login("FORTRESS", PASSWORD).await.code(),
        "RATE_LIMITED"
    );
    // Other accounts are unaffected.
    app.new_user("neighbour").await;
    attacker.login("neighbour", PASSWORD).await.ok();
}

#[tokio::test]
async fn logins_per_client_count_the_forwarded_address_only_behind_trusted_proxies() {
    let spawn = |trusted: &'static str| {
        TestApp::spawn(Backend::Sqlite, move |c| {
            c.auth.rate_limits.login_per_client = "3/5m".parse().unwrap();
            c.server.trusted_proxies = trusted.parse().unwrap();
        })
    };
    let attempt = |app: &TestApp, forwarded: &str| {
        let http = app.client().http.clone();
        let url = format!("{}/graphql", app.base_url);
        let forwarded = forwarded.to_owned();
        async move {
            let resp = http
                .post(url)
                .header("x-forwarded-for", forwarded)
                .json(&json!({ "query": "mutation { login(username: \"x-user\", password: \"whatever it is\") { message } }" }))
                .send()
                .await
                .unwrap();
            let body: Value = resp.json().await.unwrap();
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // Not trusted: the header is ignored, so every request is the same client.
    let app = spawn("").await.unwrap();
    let codes: Vec<String> =
        futures_util::future::join_all((0..5).map(|i| attempt(&app, &format!("198.51.100.{i}"))))
            .await;
    assert_eq!(
        codes.iter().filter(|c| *c == "RATE_LIMITED").count(),
        2,
        "{codes:?}"
    );

    // Behind a trusted proxy, each forwarded client has its own allowance.
    let app = spawn("127.0.0.1").await.unwrap();
    for i in 0..5 {
        assert_eq!(
            attempt(&app, &format!("198.51.100.{i}")).await,
            "INVALID_CREDENTIALS"
        );
    }
    for _ in 0..3 {
        attempt(&app, "203.0.113.7").await;
    }
    assert_eq!(attempt(&app, "203.0.113.7").await, "RATE_LIMITED");
}

/// Limits hold for the deployment, not per process: password guesses and sign-ups spread
/// over two processes sharing the store are cut off at the configured counts.
async fn limits_hold_across_processes(backend: Backend) {
    let Some((a, b, _dir)) = two_processes_with(backend, |c| {
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
        c.auth.rate_limits.signup_per_client = "4/1h".parse().unwrap();
    })
    .await
    else {
        return;
    };
    a.new_user("shared").await;
    let (on_a, on_b) = (a.client(), b.client());
    let mut wrong = 0;
    for i in 0..30 {
        let node = if i % 2 == 0 { &on_a } else { &on_b };
        match node
            .login("shared", &format!("guess number {i}"))
            .await
            .code()
        {
            "INVALID_CREDENTIALS" => wrong += 1,
            "RATE_LIMITED" => assert!(i >= 10, "attempt {i} was limited early"),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(wrong, 10, "guesses checked against the password");

    // new_user signed one up from this client already (on a): three more fit, on either node.
    let mut joined = 0;
    for i in 0..8 {
        let node = if i % 2 == 0 { &on_b } else { &on_a };
        let r = node
            .sign_up(
                &format!("joiner{i}"),
                &format!("joiner{i}@example.com"),
                PASSWORD,
            )
            .await;
        if r.errors().is_none() {
            joined += 1;
        } else {
            assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
        }
    }
    assert_eq!(joined, 3);
}

/// Logs in from `ip` (through the trusted proxy); the error code, or `OK`.
async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> String {
    let body: Value = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("x-forwarded-for", ip)
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { message } }",
            "variables": { "u": username, "p": password },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("OK")
        .to_owned()
}

#[tokio::test]
async fn the_login_limit_counts_the_account_however_it_is_named() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("twofaced").await;
    let attacker = app.client();
    for i in 0..10 {
        let name = if i % 2 == 0 {
            "twofaced"
        } else {
            "twofaced@example.com"
        };
        let r = attacker.login(name, &format!("guess number {i}")).await;
        assert_eq!(r.code(), "INVALID_CREDENTIALS", "attempt {i}");
    }
    for name in ["twofaced", "TwoFaced@Example.com"] {
        let r = attacker.login(name, "guess number 11").await;
        assert!(retry_after(&r) >= 1, "{name}");
    }
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.trusted_proxies = "127.0.0.1".parse().unwrap();
        c.auth.rate_limits.login_per_account = "10/1h".parse().unwrap();
        c.auth.rate_limits.login_per_account_global = "15/1d".parse().unwrap();
    })
    .await
    .unwrap();
    app.new_user("owner").await;
    let (attacker, owner, accomplice, third) =
        ("203.0.113.66", "198.51.100.7", "203.0.113.67", "192.0.2.9");
    for i in 0..10 {
        assert_eq!(
            login_from(&app, attacker, "owner", &format!("guess {i}")).await,
            "INVALID_CREDENTIALS"
        );
    }
    // The attacker's own allowance for this account is spent, even for the right password…
    assert_eq!(
        login_from(&app, attacker, "owner@example.com", PASSWORD).await,
        "RATE_LIMITED"
    );
    // …but the owner, from their own address, gets in.
    assert_eq!(login_from(&app, owner, "owner", PASSWORD).await, "OK");
    // Guessing from many addresses meets the account's ceiling (15: 10 + 1 + 4).
    for i in 0..4 {
        assert_eq!(
            login_from(&app, accomplice, "owner", &format!("more {i}")).await,
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        login_from(&app, third, "owner", "one more guess").await,
        "RATE_LIMITED"
    );
}
