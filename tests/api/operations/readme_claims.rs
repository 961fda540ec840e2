//! What the docs promise and no other test file checks: the remaining rate limits, the
//! second CSRF preflight header, panics, query strings kept out of the log, the reset page's
//! headers, and e-mail links dying with a rotated key. Black-box, over HTTP.

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, Client, Gql, Link, PASSWORD, TestApp, process::ServerProcess};
use quiz_llm::config::{DatabaseUrl, ExposeSecret, SecretString};
use serde_json::{Value, json};

/// `RATE_LIMITED`'s wait, in seconds; fails unless the answer is `RATE_LIMITED`.
fn retry_after(r: &Gql) -> u64 {
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    r.errors().unwrap()[0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter in seconds")
}

/// With `COUNT/1h` used up at once, the next attempt is allowed once the burst weighs one less
/// than COUNT: one COUNT-th into the next hour-long window, so at least an hour's COUNT-th
/// and at most an hour and a COUNT-th from now. Returns the wait.
fn assert_waits_for_a_slot(r: &Gql, count: u64) -> u64 {
    let wait = retry_after(r);
    let slot = 3600 / count;
    assert!(
        (slot..=3600 + slot + 1).contains(&wait),
        "retryAfter {wait}, expected between {slot} and {} s",
        3600 + slot
    );
    wait
}

async fn resend(c: &Client, email: &str) -> Gql {
    c.gql(
        "mutation($e: String!) { resendVerificationEmail(email: $e) }",
        json!({ "e": email }),
    )
    .await
}

async fn request_reset(c: &Client, email: &str) -> Gql {
    c.gql(
        "mutation($e: String!) { requestPasswordReset(email: $e) }",
        json!({ "e": email }),
    )
    .await
}

async fn reset_password(c: &Client, link: &Link, password: &str) -> Gql {
    c.gql(
        "mutation($u: String!, $t: String!, $p: String!) { resetPassword(uid: $u, token: $t, newPassword: $p) }",
        json!({ "u": link.uid, "t": link.token, "p": password }),
    )
    .await
}

#[tokio::test]
async fn sign_ups_per_client_are_limited() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.signup_per_client = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let c = app.client();
    for i in 0..3 {
        c.sign_up(
            &format!("joiner{i}"),
            &format!("joiner{i}@example.com"),
            PASSWORD,
        )
        .await
        .ok();
    }
    let r = c.sign_up("joiner3", "joiner3@example.com", PASSWORD).await;
    let wait = assert_waits_for_a_slot(&r, 3);
    // Refused before anything was written or sent.
    assert!(
        app.store
            .find_user_by_username("joiner3")
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.emails_to("joiner3@example.com").is_empty());

    // A second before the wait is over, still refused; once it is, one more gets through.
    app.clock.advance(Duration::from_secs(wait - 1));
    let r = c.sign_up("joiner3", "joiner3@example.com", PASSWORD).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    app.clock.advance(Duration::from_secs(1));
    c.sign_up("joiner3", "joiner3@example.com", PASSWORD)
        .await
        .ok();
    let r = c.sign_up("joiner4", "joiner4@example.com", PASSWORD).await;
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
}

#[tokio::test]
async fn mail_sending_requests_per_client_are_limited() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.mail_per_client = "4/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let c = app.client();
    // Each request names another address, so only the per-client limit can bite. Sign-up sends
    // the verification e-mail, so it counts too.
    c.sign_up("mailer", "mailer@example.com", PASSWORD)
        .await
        .ok();
    resend(&c, "mailer@example.com").await.ok();
    resend(&c, "nobody@example.com").await.ok();
    request_reset(&c, "someone@example.com").await.ok();
    assert_waits_for_a_slot(&request_reset(&c, "another@example.com").await, 4);
    assert_waits_for_a_slot(&resend(&c, "mailer@example.com").await, 4);
    assert_waits_for_a_slot(
        &c.sign_up("mailer2", "mailer2@example.com", PASSWORD).await,
        4,
    );
    // The resent link is mailed in the background, after the answer.
    assert_eq!(app.wait_for_emails("mailer@example.com", 2).await.len(), 2);
    assert!(app.emails_to("mailer2@example.com").is_empty());
}

#[tokio::test]
async fn refreshes_per_session_are_limited() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.auth.rate_limits.refresh_per_session = "3/1h".parse().unwrap();
    })
    .await
    .unwrap();
    let (tab, _) = app.new_user("refresher").await;
    for _ in 0..3 {
        tab.refresh().await.ok();
    }
    assert_waits_for_a_slot(&tab.refresh().await, 3);
    // The limit is the session's: another device of the same account still refreshes.
    let laptop = app.client();
    laptop.login("refresher", PASSWORD).await.ok();
    laptop.refresh().await.ok();
}

crate::on_every_store!(refresh_limit_is_shared_by_processes);

/// The refresh count lives on the session, so refreshes through two server processes add up
/// to one limit, and the next window gives the budget back.
async fn refresh_limit_is_shared_by_processes(backend: Backend) {
    let Some(a) = TestApp::spawn_shareable(backend, |c| {
        c.auth.rate_limits.refresh_per_session = "4/10m".parse().unwrap();
    })
    .await
    else {
        return;
    };
    let b = a.spawn_sharing(|_| {}).await;
    let (on_a, _) = a.new_user("two-nodes").await;
    let on_b = on_a.on(&b);
    for tab in [&on_a, &on_b, &on_a, &on_b] {
        tab.refresh().await.ok();
    }
    let wait = retry_after(&on_a.refresh().await);
    assert!((1..=750).contains(&wait), "retryAfter {wait}");
    retry_after(&on_b.refresh().await);

    for app in [&a, &b] {
        app.clock.advance(Duration::from_secs(wait));
    }
    on_b.refresh().await.ok();
    on_a.me().await.ok();
}

#[tokio::test]
async fn x_apollo_operation_name_counts_as_a_preflight_header() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (browser, _) = app.new_user("apollo").await;
    let request_body =
        json!({ "query": "query Me { me { username } }", "operationName": "Me" }).to_string();
    let post = |header: Option<&'static str>| {
        let mut req = browser
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("content-type", "text/plain")
            .body(request_body.clone());
        if let Some(value) = header {
            req = req.header("x-apollo-operation-name", value);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(Some("Me")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["username"], "apollo");
    for refused in [None, Some("")] {
        let (status, body) = post(refused).await;
        assert_eq!(status, 400, "{refused:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(body["data"].is_null(), "{body}");
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_server_carries_on() {
    // The route exists only when the test turns it on; a default configuration has none.
    let plain = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let r = plain.client().get(quiz_llm::http::PANIC_ROUTE).await;
    assert_eq!(r.status().as_u16(), 404);

    let app = TestApp::spawn(Backend::Sqlite, |c| c.panic_route_for_tests = true)
        .await
        .unwrap();
    let c = app.client();
    let r = c.get(quiz_llm::http::PANIC_ROUTE).await;
    assert_eq!(r.status().as_u16(), 500);
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(
        body,
        json!({ "errors": [{ "message": "Internal error.", "extensions": { "code": "INTERNAL" } }] })
    );
    for internal in ["panic", "internal detail", ".rs", "thread"] {
        assert!(!text.contains(internal), "{internal:?} leaked: {text}");
    }
    assert_eq!(c.get("/healthz").await.status().as_u16(), 200);
    c.gql("{ __typename }", json!({})).await.ok();
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

#[tokio::test]
async fn the_reset_password_page_carries_security_headers() {
    use base64::Engine;
    use sha2::Digest;
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let r = app.client().get("/reset-password?uid=x&token=y").await;
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers().clone();
    let header = |name: &str| {
        h.get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The page's one inline script is allowed by its hash, and nothing else is.
    let html = r.text().await.unwrap();
    let scripts: Vec<&str> = html
        .split("<script>")
        .skip(1)
        .map(|s| s.split("</script>").next().unwrap())
        .collect();
    assert_eq!(scripts.len(), 1, "{html}");
    let hash = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(scripts[0].as_bytes()));
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_else(|| panic!("no script-src in {csp}"));
    assert_eq!(script_src, format!("script-src 'sha256-{hash}'"));
}

#[tokio::test]
async fn e_mail_links_die_when_the_key_is_rotated() {
    const OLD_SECRET: &str = "test-secret-test-secret-test-secret!";
    let dir = tempfile::tempdir().unwrap();
    let db = DatabaseUrl::Sqlite(Some(dir.path().join("shared.db")));
    let spawn = |previous: Option<&str>| {
        let db = db.clone();
        let previous = previous.map(str::to_owned);
        TestApp::spawn(Backend::Sqlite, move |c| {
            c.store.database_url = db;
            if let Some(old) = previous {
                c.auth.jwt_secret =
                    Some(SecretString::from("a-brand-new-secret-a-brand-new-secret"));
                c.auth.jwt_previous_secrets = vec![SecretString::from(old)];
            }
        })
    };
    let old = spawn(None).await.unwrap();
    assert_eq!(
        old.config.auth.jwt_secret.as_ref().unwrap().expose_secret(),
        OLD_SECRET
    );
    // Links made with the old key: one to verify an address, one to reset a password.
    old.client()
        .sign_up("waiting", "waiting@example.com", PASSWORD)
        .await
        .ok();
    let verify = old.verification_link("waiting@example.com");
    let (browser, email) = old.new_user("forgetful").await;
    request_reset(&browser, &email).await.ok();
    let reset = old.reset_link(&email).await;
    let session_token =
        browser.login("forgetful", PASSWORD).await.ok().data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();

    let rotated = spawn(Some(OLD_SECRET)).await.unwrap();
    let c = rotated.client();
    // The old key still verifies access tokens (nobody is logged out)...
    assert_eq!(
        c.with_bearer(&session_token).me().await.ok().data()["me"]["username"],
        "forgetful"
    );
    // ...but no longer e-mail links.
    assert_eq!(
        c.verify_email(&verify.uid, &verify.token).await.code(),
        "INVALID_TOKEN"
    );
    let new_password = "violet otter cements the harbor";
    assert_eq!(
        reset_password(&c, &reset, new_password).await.code(),
        "INVALID_TOKEN"
    );
    // The links themselves were good: the server with the old key still takes them.
    old.client()
        .verify_email(&verify.uid, &verify.token)
        .await
        .ok();
    reset_password(&old.client(), &reset, new_password)
        .await
        .ok();
    // And links made after the rotation work on the rotated server.
    request_reset(&c, &email).await.ok();
    reset_password(&c, &rotated.reset_link(&email).await, PASSWORD)
        .await
        .ok();
}
