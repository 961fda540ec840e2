//! Signing in with an OpenID Connect provider. What should work runs against a real provider
//! (npm's oidc-provider, `common::oidc`), its login and consent pages walked like a browser;
//! the ID tokens no real provider would send (a wrong nonce or audience, expired, forged) come
//! from a fake issuer (`common::fake_oidc`).

use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{
    self, Backend, Client, TestApp,
    fake_oidc::{self, FakeIssuer},
    oidc::{self, TestProvider},
};
use quiz_llm::{auth::social::ProviderConfig, config::SecretString};

const START: &str = "mutation($p: String!, $r: String!) { \
    startSocialLogin(provider: $p, returnTo: $r) { authorizationUrl } }";
const LINK: &str = "mutation($p: String!, $r: String!) { \
    linkSocialAccount(provider: $p, returnTo: $r) { authorizationUrl } }";
const ME: &str = "{ me { id username email isActive \
    socialAccounts { provider subject email } } sessions { current signInMethod } }";

fn provider_config(name: &str, issuer: &str, client_id: &str, secret: &str) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        display_name: format!("{name} sign-in"),
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: SecretString::from(secret.to_owned()),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
    }
}

/// An app whose PUBLIC_URL is its own address (the provider sends browsers back there).
async fn app_with(backend: Backend, providers: Vec<ProviderConfig>) -> Option<TestApp> {
    let port = common::free_port();
    TestApp::spawn(backend, |s| {
        s.server.listen_addr = format!("127.0.0.1:{port}").parse().unwrap();
        s.auth.public_url = format!("http://127.0.0.1:{port}");
        s.auth.oidc.oidc_provider_configs = providers;
    })
    .await
}

/// The real provider with alice (address verified) and bob (not), and an app using it as
/// `corp`.
async fn with_real_provider(backend: Backend) -> Option<(TestProvider, TestApp)> {
    let provider = TestProvider::start(json!({
        "alice": { "email": "alice@example.com", "email_verified": true, "preferred_username": "alice" },
        "bob": { "email": "bob@example.com", "email_verified": false },
    }))
    .await?;
    let config = provider_config(
        "corp",
        &provider.issuer,
        &provider.client_id,
        &provider.client_secret,
    );
    let app = app_with(backend, vec![config]).await?;
    Some((provider, app))
}

/// A new browser on `app`: its own cookies, redirects not followed.
fn browser(app: &TestApp) -> Client {
    Client {
        http: oidc::browser(),
        base_url: app.base_url.clone(),
        bearer: None,
        origin: None,
        accept_language: None,
    }
}

fn return_to(app: &TestApp) -> String {
    format!("{}/done?tab=quizzes", app.base_url)
}

fn url_of(r: &common::Gql, field: &str) -> String {
    r.data()[field]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The whole sign-in as `login` at the real provider; the server's answer to the callback.
async fn sign_in(
    provider: &TestProvider,
    app: &TestApp,
    browser: &Client,
    login: &str,
) -> reqwest::Response {
    let r = browser
        .gql(START, json!({ "p": "corp", "r": return_to(app) }))
        .await
        .ok();
    let back = provider
        .sign_in(&browser.http, &url_of(&r, "startSocialLogin"), login)
        .await;
    assert!(
        back.starts_with(&format!("{}/auth/oidc/corp/callback?", app.base_url)),
        "{back}"
    );
    browser.http.get(back).send().await.unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    assert_eq!(resp.status(), 303, "{resp:?}");
    resp.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// The `error` a failed sign-in sends the browser back with.
fn error_of(location: &str) -> Option<String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned())
}

fn sets_access_cookie(resp: &reqwest::Response) -> bool {
    resp.headers().get_all(SET_COOKIE).iter().any(|v| {
        v.to_str().unwrap().starts_with("access=") && !v.to_str().unwrap().starts_with("access=;")
    })
}

on_every_store!(
    a_first_sign_in_makes_a_verified_account_and_the_next_finds_it,
    an_address_links_accounts_only_when_both_sides_verified_it,
    linking_and_unlinking_follow_the_rules,
);

async fn a_first_sign_in_makes_a_verified_account_and_the_next_finds_it(backend: Backend) {
    let Some((provider, app)) = with_real_provider(backend).await else {
        return;
    };
    let r = browser(&app)
        .gql("{ socialProviders { name displayName } }", json!({}))
        .await
        .ok();
    assert_eq!(
        r.data()["socialProviders"],
        json!([{ "name": "corp", "displayName": "corp sign-in" }])
    );

    let first = browser(&app);
    let resp = sign_in(&provider, &app, &first, "alice").await;
    assert!(sets_access_cookie(&resp));
    assert_eq!(location(&resp), return_to(&app));
    let me = first.gql(ME, json!({})).await.ok();
    let me = me.data();
    assert_eq!(me["me"]["username"], "alice");
    assert_eq!(me["me"]["email"], "alice@example.com");
    assert_eq!(me["me"]["isActive"], true);
    assert_eq!(
        me["me"]["socialAccounts"],
        json!([{ "provider": "corp", "subject": "alice", "email": "alice@example.com" }])
    );
    assert_eq!(
        me["sessions"],
        json!([{ "current": true, "signInMethod": "SOCIAL" }])
    );
    // No password was set: none logs in.
    let r = app.client().login("alice", common::PASSWORD).await;
    assert_eq!(r.code(), "INVALID_CREDENTIALS");

    // Another browser, the same identity: the same account, no second one.
    let second = browser(&app);
    let resp = sign_in(&provider, &app, &second, "alice").await;
    assert_eq!(location(&resp), return_to(&app));
    let again = second.gql(ME, json!({})).await.ok();
    assert_eq!(again.data()["me"]["id"], me["me"]["id"]);
    assert_eq!(again.data()["sessions"].as_array().unwrap().len(), 2);

    // An address the provider has not verified makes no account.
    let resp = sign_in(&provider, &app, &browser(&app), "bob").await;
    assert!(!sets_access_cookie(&resp));
    let to = location(&resp);
    assert!(
        to.starts_with(&format!("{}/done?tab=quizzes&", app.base_url)),
        "{to}"
    );
    assert_eq!(error_of(&to).as_deref(), Some("email_unverified"));
    let r = app
        .client()
        .sign_up("bob", "bob@example.com", common::PASSWORD)
        .await;
    assert!(r.errors().is_none(), "the address stays free: {r:?}");
}

async fn an_address_links_accounts_only_when_both_sides_verified_it(backend: Backend) {
    let Some((provider, app)) = with_real_provider(backend).await else {
        return;
    };
    // A verified account with the address the provider verified: the same person.
    let (owner, _) = app.new_user("alice").await;
    let own = owner.gql(ME, json!({})).await.ok();
    let b = browser(&app);
    let resp = sign_in(&provider, &app, &b, "alice").await;
    assert_eq!(error_of(&location(&resp)), None);
    let me = b.gql(ME, json!({})).await.ok();
    assert_eq!(me.data()["me"]["id"], own.data()["me"]["id"]);
    assert_eq!(me.data()["me"]["socialAccounts"][0]["provider"], "corp");
    // Its password still works.
    owner.login("alice", common::PASSWORD).await.ok();

    // An account whose owner never confirmed the address is not taken over, nor replaced.
    let Some((provider, app)) = with_real_provider(backend).await else {
        return;
    };
    let r = app
        .client()
        .sign_up("pending", "alice@example.com", common::PASSWORD)
        .await;
    assert!(r.errors().is_none(), "{r:?}");
    let resp = sign_in(&provider, &app, &browser(&app), "alice").await;
    assert!(!sets_access_cookie(&resp));
    assert_eq!(
        error_of(&location(&resp)).as_deref(),
        Some("account_exists")
    );
}

async fn linking_and_unlinking_follow_the_rules(backend: Backend) {
    let Some((provider, app)) = with_real_provider(backend).await else {
        return;
    };
    // A logged-in account links the identity (its login is recent enough).
    let (c, _) = app.new_user("carol").await;
    let linker = Client {
        http: oidc::browser(),
        ..c.clone()
    };
    linker.login("carol", common::PASSWORD).await.ok();
    let r = linker
        .gql(LINK, json!({ "p": "corp", "r": return_to(&app) }))
        .await
        .ok();
    let back = provider
        .sign_in(&linker.http, &url_of(&r, "linkSocialAccount"), "alice")
        .await;
    let resp = linker.http.get(back).send().await.unwrap();
    assert_eq!(location(&resp), return_to(&app));
    let me = linker.gql(ME, json!({})).await.ok();
    assert_eq!(me.data()["me"]["username"], "carol");
    assert_eq!(me.data()["me"]["socialAccounts"][0]["subject"], "alice");
    // Signing in as alice at the provider now logs into carol's account.
    let b = browser(&app);
    sign_in(&provider, &app, &b, "alice").await;
    assert_eq!(
        b.gql(ME, json!({})).await.ok().data()["me"]["username"],
        "carol"
    );

    // Another account cannot take the same identity.
    let (_, _) = app.new_user("dave").await;
    let dave = browser(&app);
    dave.login("dave", common::PASSWORD).await.ok();
    let r = dave
        .gql(LINK, json!({ "p": "corp", "r": return_to(&app) }))
        .await
        .ok();
    let back = provider
        .sign_in(&dave.http, &url_of(&r, "linkSocialAccount"), "alice")
        .await;
    let resp = dave.http.get(back).send().await.unwrap();
    assert_eq!(
        error_of(&location(&resp)).as_deref(),
        Some("already_linked")
    );
    assert_eq!(
        dave.gql(ME, json!({})).await.ok().data()["me"]["socialAccounts"],
        json!([])
    );

    // Linking needs a recent login.
    app.clock.advance(std::time::Duration::from_secs(10 * 60));
    let r = dave
        .gql(LINK, json!({ "p": "corp", "r": return_to(&app) }))
        .await;
    assert_eq!(r.code(), "REAUTHENTICATION_REQUIRED");

    // Unlinking: carol keeps her password, so the link may go; then there is nothing to unlink.
    linker.login("carol", common::PASSWORD).await.ok();
    let unlink = "mutation { unlinkSocialAccount(provider: \"corp\") }";
    assert_eq!(
        linker.gql(unlink, json!({})).await.ok().data()["unlinkSocialAccount"],
        true
    );
    assert_eq!(linker.gql(unlink, json!({})).await.code(), "NOT_FOUND");
    assert_eq!(
        linker.gql(ME, json!({})).await.ok().data()["me"]["socialAccounts"],
        json!([])
    );
}

#[tokio::test]
async fn the_callback_is_single_use_and_its_state_must_match() {
    let Some((provider, app)) = with_real_provider(Backend::Sqlite).await else {
        return;
    };
    let b = browser(&app);
    let r = b
        .gql(START, json!({ "p": "corp", "r": return_to(&app) }))
        .await
        .ok();
    let back = provider
        .sign_in(&b.http, &url_of(&r, "startSocialLogin"), "alice")
        .await;
    // A forged state names no sign-in, and uses nothing up.
    let forged = back.replace("state=", "state=x");
    let resp = b.http.get(&forged).send().await.unwrap();
    assert!(!sets_access_cookie(&resp));
    assert_eq!(
        location(&resp),
        format!("{}/?error=invalid_state", app.base_url)
    );
    // The real one signs in, once.
    let resp = b.http.get(&back).send().await.unwrap();
    assert!(sets_access_cookie(&resp));
    let replay = browser(&app).http.get(&back).send().await.unwrap();
    assert!(!sets_access_cookie(&replay));
    assert_eq!(
        error_of(&location(&replay)).as_deref(),
        Some("invalid_state")
    );

    // A state brought back to another provider's callback ends that sign-in.
    let b = browser(&app);
    let r = b
        .gql(START, json!({ "p": "corp", "r": return_to(&app) }))
        .await
        .ok();
    let back = provider
        .sign_in(&b.http, &url_of(&r, "startSocialLogin"), "alice")
        .await;
    let elsewhere = back.replace("/auth/oidc/corp/", "/auth/oidc/other/");
    for url in [&elsewhere, &back] {
        let resp = b.http.get(url).send().await.unwrap();
        assert!(!sets_access_cookie(&resp));
        assert_eq!(error_of(&location(&resp)).as_deref(), Some("invalid_state"));
    }

    // A sign-in not finished within 10 minutes has lapsed.
    let b = browser(&app);
    let r = b
        .gql(START, json!({ "p": "corp", "r": return_to(&app) }))
        .await
        .ok();
    let back = provider
        .sign_in(&b.http, &url_of(&r, "startSocialLogin"), "alice")
        .await;
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    let resp = b.http.get(&back).send().await.unwrap();
    assert_eq!(error_of(&location(&resp)).as_deref(), Some("invalid_state"));
}

#[tokio::test]
async fn return_to_and_provider_are_checked_before_anything_starts() {
    let Some((_provider, app)) = with_real_provider(Backend::Sqlite).await else {
        return;
    };
    let c = browser(&app);
    for bad in [
        "https://evil.example/after",
        "//evil.example/after",
        "/relative/path",
        "javascript:alert(1)",
        "http://user:pass@127.0.0.1/",
    ] {
        let r = c.gql(START, json!({ "p": "corp", "r": bad })).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("returnTo")),
            "{bad}"
        );
    }
    // PUBLIC_URL's origin is allowed, whatever the path.
    let r = c
        .gql(
            START,
            json!({ "p": "corp", "r": format!("{}/any/where", app.base_url) }),
        )
        .await;
    assert!(r.errors().is_none(), "{r:?}");
    let r = c
        .gql(START, json!({ "p": "nobody", "r": return_to(&app) }))
        .await;
    assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("provider")));
    // A guest or a stranger cannot link anything.
    let r = c
        .gql(LINK, json!({ "p": "corp", "r": return_to(&app) }))
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn two_factor_login_still_asks_for_its_code() {
    let Some((provider, app)) = with_real_provider(Backend::Sqlite).await else {
        return;
    };
    let (c, _) = app.new_user("alice").await;
    crate::mfa::turn_totp_on(&app, &c).await;
    let b = browser(&app);
    let resp = sign_in(&provider, &app, &b, "alice").await;
    assert!(!sets_access_cookie(&resp));
    let to = location(&resp);
    assert_eq!(error_of(&to).as_deref(), Some("mfa_required"));
    let token = reqwest::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "mfaToken")
        .map(|(_, v)| v.into_owned());
    assert!(token.is_some_and(|t| !t.is_empty()), "{to}");
    assert_eq!(b.gql(ME, json!({})).await.code(), "UNAUTHENTICATED");
}

/// The checks on the ID token, each broken on its own by a fake issuer.
#[tokio::test]
async fn id_tokens_that_fail_a_check_log_no_one_in() {
    let fake = FakeIssuer::start().await;
    let config = provider_config("fake", &fake.issuer, fake_oidc::CLIENT_ID, "fake-secret");
    let app = app_with(Backend::Sqlite, vec![config]).await.unwrap();
    // The fake's good token passes, so each failure below is its one broken check.
    let good = |nonce: &str, now: i64| (fake.good_claims(nonce, now), false);
    assert_eq!(attempt(&app, &fake, &good).await, (true, None));
    let broken: [(&str, &PlannedToken<'_>); 5] = [
        ("wrong nonce", &|_, now| {
            (fake.good_claims("another-nonce", now), false)
        }),
        ("wrong audience", &|n, now| {
            let mut c = fake.good_claims(n, now);
            c["aud"] = json!("someone-else");
            (c, false)
        }),
        ("expired", &|n, now| {
            let mut c = fake.good_claims(n, now);
            c["iat"] = json!(now - 3600);
            c["exp"] = json!(now - 60);
            (c, false)
        }),
        ("another issuer", &|n, now| {
            let mut c = fake.good_claims(n, now);
            c["iss"] = json!("https://evil.example");
            (c, false)
        }),
        ("forged signature", &|n, now| {
            (fake.good_claims(n, now), true)
        }),
    ];
    for (case, claims) in broken {
        assert_eq!(
            attempt(&app, &fake, claims).await,
            (false, Some("invalid_id_token".to_owned())),
            "{case}"
        );
    }
}

/// `OIDC_RETURN_ORIGINS` lets a sign-in return to a frontend on another origin, and only there.
#[tokio::test]
async fn return_origins_let_a_frontend_elsewhere_receive_the_browser() {
    let fake = FakeIssuer::start().await;
    let config = provider_config("fake", &fake.issuer, fake_oidc::CLIENT_ID, "fake-secret");
    let app = TestApp::spawn(Backend::Sqlite, |s| {
        s.auth.oidc.oidc_provider_configs = vec![config];
        s.auth.oidc.oidc_return_origins = vec!["https://app.example.com".into()];
    })
    .await
    .unwrap();
    let c = browser(&app);
    for (to, allowed) in [
        ("https://app.example.com/after", true),
        ("https://app.example.com:8443/after", false),
        ("http://app.example.com/after", false),
        ("https://evil.app.example.com/after", false),
    ] {
        let r = c.gql(START, json!({ "p": "fake", "r": to })).await;
        assert_eq!(r.errors().is_none(), allowed, "{to}: {r:?}");
    }
}

/// Starting sign-ins and answering callbacks count against the client's login limit.
#[tokio::test]
async fn sign_ins_count_against_the_clients_login_limit() {
    let fake = FakeIssuer::start().await;
    let config = provider_config("fake", &fake.issuer, fake_oidc::CLIENT_ID, "fake-secret");
    let port = common::free_port();
    let app = TestApp::spawn(Backend::Sqlite, |s| {
        s.server.listen_addr = format!("127.0.0.1:{port}").parse().unwrap();
        s.auth.public_url = format!("http://127.0.0.1:{port}");
        s.auth.oidc.oidc_provider_configs = vec![config];
        s.auth.rate_limits.login_per_client = "3/5m".parse().unwrap();
    })
    .await
    .unwrap();
    let good = |nonce: &str, now: i64| (fake.good_claims(nonce, now), false);
    // One sign-in is a start and a callback: two of the three.
    assert_eq!(attempt(&app, &fake, &good).await, (true, None));
    let c = browser(&app);
    let r = c
        .gql(START, json!({ "p": "fake", "r": return_to(&app) }))
        .await
        .ok();
    let state = reqwest::Url::parse(&url_of(&r, "startSocialLogin"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let r = c
        .gql(START, json!({ "p": "fake", "r": return_to(&app) }))
        .await;
    assert_eq!(r.code(), "RATE_LIMITED");
    let resp = c
        .http
        .get(format!(
            "{}/auth/oidc/fake/callback?state={state}&code=c",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&resp),
        format!("{}/?error=rate_limited", app.base_url)
    );
}

/// A provider that rotates its keys: the server, holding the old set, fetches the new one
/// when a token names a key it lacks, and signs the person in.
#[tokio::test]
async fn rotated_provider_keys_are_fetched_again() {
    let fake = FakeIssuer::start().await;
    let config = provider_config("fake", &fake.issuer, fake_oidc::CLIENT_ID, "fake-secret");
    let app = app_with(Backend::Sqlite, vec![config]).await.unwrap();
    let good = |nonce: &str, now: i64| (fake.good_claims(nonce, now), false);
    assert_eq!(attempt(&app, &fake, &good).await, (true, None));
    fake.rotate_keys();
    assert_eq!(attempt(&app, &fake, &good).await, (true, None));
    // A forged token still fails after the fresh fetch.
    let forged = |nonce: &str, now: i64| (fake.good_claims(nonce, now), true);
    assert_eq!(
        attempt(&app, &fake, &forged).await,
        (false, Some("invalid_id_token".to_owned()))
    );
}

/// The ID token the fake issuer hands out, from the nonce the server sent and the server's time
/// (Unix seconds): its claims, and whether it is signed with a key never published.
type PlannedToken<'a> = dyn Fn(&str, i64) -> (Value, bool) + 'a;

/// One sign-in through the fake issuer, whose ID token `claims` makes from the nonce the server
/// sent and the server's time: whether it logged in, and the error it sent the browser back with.
async fn attempt(
    app: &TestApp,
    fake: &FakeIssuer,
    claims: &PlannedToken<'_>,
) -> (bool, Option<String>) {
    let b = browser(app);
    let r = b
        .gql(START, json!({ "p": "fake", "r": return_to(app) }))
        .await
        .ok();
    let url = reqwest::Url::parse(&url_of(&r, "startSocialLogin")).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_eq!(param("code_challenge_method"), "S256");
    let now = quiz_llm::domain::Clock::now(&app.clock).timestamp();
    let (planned, forged) = claims(&param("nonce"), now);
    fake.plan(planned, forged);
    let resp = b
        .http
        .get(format!(
            "{}/auth/oidc/fake/callback?state={}&code=c",
            app.base_url,
            param("state")
        ))
        .send()
        .await
        .unwrap();
    (sets_access_cookie(&resp), error_of(&location(&resp)))
}
