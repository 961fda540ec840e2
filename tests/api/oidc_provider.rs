//! The OpenID Connect test provider (`common::oidc`) behaves as the sign-in tests rely on,
//! shown with plain HTTP and no code of ours: a browser signs in through its login and consent
//! pages, the code is redeemed with PKCE S256 at the token endpoint that discovery names, the ID
//! token carries the account's claims, a wrong verifier is refused, and only loopback redirect
//! URIs that were not registered are accepted. Without the provider installed these tests do
//! nothing (loudly), unless `QUIZ_LLM_REQUIRE_OIDC=1`, when they fail.

use crate::common::{
    self,
    oidc::{self, TestProvider},
};

use base64::Engine;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn accounts() -> Value {
    json!({
        "alice": { "email": "alice@example.com", "email_verified": true, "name": "Alice Liddell" },
        "bob": { "email": "bob@example.com", "email_verified": false, "name": "Bob" },
    })
}

/// A PKCE verifier (64 characters of the unreserved set) and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A callback on a loopback port where nothing listens: the browser is never sent there.
fn redirect_uri() -> String {
    format!(
        "http://127.0.0.1:{}/auth/oidc/callback",
        common::free_port()
    )
}

fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn discovery(provider: &TestProvider) -> Value {
    reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        provider.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

/// How the client proves who it is at the token endpoint.
#[derive(Clone, Copy)]
enum ClientAuth {
    Basic,
    Post,
}

/// Redeems `code` at the token endpoint: the status and the JSON body.
async fn redeem(
    provider: &TestProvider,
    auth: ClientAuth,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let endpoint = discovery(provider).await["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    let request = reqwest::Client::new().post(endpoint);
    let request = match auth {
        ClientAuth::Basic => request.basic_auth(&provider.client_id, Some(&provider.client_secret)),
        ClientAuth::Post => {
            form.push(("client_id", &provider.client_id));
            form.push(("client_secret", &provider.client_secret));
            request
        }
    };
    let response = request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(oidc::form_urlencoded(&form))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Signs `login` in with a new browser; the code, checked to come back with the state.
async fn code_for(
    provider: &TestProvider,
    login: &str,
    redirect_uri: &str,
    challenge: &str,
) -> String {
    let url = provider.authorization_url(redirect_uri, "the-state", "the-nonce", challenge);
    let back = provider.sign_in(&oidc::browser(), &url, login).await;
    assert!(back.starts_with(&format!("{redirect_uri}?")), "{back}");
    assert_eq!(
        param(&back, "state").as_deref(),
        Some("the-state"),
        "{back}"
    );
    assert_eq!(
        param(&back, "iss").as_deref(),
        Some(provider.issuer.as_str()),
        "{back}"
    );
    param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"))
}

#[tokio::test]
async fn alice_signs_in_with_pkce_and_her_id_token_carries_her_claims() {
    let Some(provider) = TestProvider::start(accounts()).await else {
        return;
    };
    let (verifier, challenge) = pkce();
    let redirect_uri = redirect_uri();
    let url = provider.authorization_url(&redirect_uri, "state-1", "nonce-1", &challenge);
    let browser = oidc::browser();
    let back = provider.sign_in(&browser, &url, "alice").await;
    assert!(back.starts_with(&format!("{redirect_uri}?")), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("state-1"));
    let code = param(&back, "code").expect("a code");

    let (status, tokens) = redeem(
        &provider,
        ClientAuth::Basic,
        &code,
        &redirect_uri,
        &verifier,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                tokens["id_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256", "{header}");
    let claims = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["iss"], provider.issuer, "{claims}");
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(claims["aud"], provider.client_id, "{claims}");
    assert_eq!(claims["nonce"], "nonce-1", "{claims}");
    assert_eq!(claims["email"], "alice@example.com", "{claims}");
    assert_eq!(claims["email_verified"], true, "{claims}");
    assert_eq!(claims["name"], "Alice Liddell", "{claims}");

    // Userinfo serves the same claims for the access token.
    let userinfo: Value = reqwest::Client::new()
        .get(
            discovery(&provider).await["userinfo_endpoint"]
                .as_str()
                .unwrap(),
        )
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "alice", "{userinfo}");
    assert_eq!(userinfo["email_verified"], true, "{userinfo}");

    // The code is spent.
    let (status, body) = redeem(
        &provider,
        ClientAuth::Basic,
        &code,
        &redirect_uri,
        &verifier,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Signed in already: the same browser comes straight back with a new code.
    let again = provider.authorization_url(&redirect_uri, "state-2", "nonce-2", &challenge);
    let back = provider.sign_in(&browser, &again, "ignored").await;
    assert_eq!(param(&back, "state").as_deref(), Some("state-2"), "{back}");
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = redeem(
        &provider,
        ClientAuth::Basic,
        &code,
        &redirect_uri,
        &verifier,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(
        common::claims_of(tokens["id_token"].as_str().unwrap())["sub"],
        "alice"
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused() {
    let Some(provider) = TestProvider::start(accounts()).await else {
        return;
    };
    let (_, challenge) = pkce();
    let (wrong, _) = pkce();
    let redirect_uri = redirect_uri();
    let code = code_for(&provider, "alice", &redirect_uri, &challenge).await;
    let (status, body) = redeem(&provider, ClientAuth::Basic, &code, &redirect_uri, &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body.get("id_token").is_none(), "{body}");
}

#[tokio::test]
async fn bob_s_email_is_unverified_and_an_unknown_login_has_only_a_subject() {
    let Some(provider) = TestProvider::start(accounts()).await else {
        return;
    };
    let redirect_uri = redirect_uri();

    // The secret in the form body works as well as in the Authorization header.
    let (verifier, challenge) = pkce();
    let code = code_for(&provider, "bob", &redirect_uri, &challenge).await;
    let (status, tokens) =
        redeem(&provider, ClientAuth::Post, &code, &redirect_uri, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "bob", "{claims}");
    assert_eq!(claims["email"], "bob@example.com", "{claims}");
    assert_eq!(claims["email_verified"], false, "{claims}");

    let (verifier, challenge) = pkce();
    let code = code_for(&provider, "carol", &redirect_uri, &challenge).await;
    let (status, tokens) =
        redeem(&provider, ClientAuth::Post, &code, &redirect_uri, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = common::claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "carol", "{claims}");
    for absent in ["email", "email_verified", "name", "preferred_username"] {
        assert!(claims.get(absent).is_none(), "{absent}: {claims}");
    }
}

#[tokio::test]
async fn only_loopback_redirect_uris_are_accepted_unregistered() {
    let Some(provider) = TestProvider::start(accounts()).await else {
        return;
    };
    let (_, challenge) = pkce();
    let port = common::free_port();
    let browser = oidc::browser();
    for (redirect_uri, accepted) in [
        (format!("http://localhost:{port}/callback"), true),
        (format!("http://127.0.0.1:{port}/another/path?x=1"), true),
        (format!("https://127.0.0.1:{port}/callback"), false),
        ("http://127.0.0.1/callback-without-a-port".to_owned(), false),
        (format!("http://quiz.example:{port}/callback"), false),
        (format!("http://127.0.0.2:{port}/callback"), false),
    ] {
        let url = provider.authorization_url(&redirect_uri, "s", "n", &challenge);
        let response = browser.get(&url).send().await.unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        if accepted {
            // On to the provider's own login page.
            assert!(
                response.status().is_redirection(),
                "{redirect_uri}: {}",
                response.status()
            );
            let location = location.unwrap();
            assert!(
                location.starts_with("/interaction/"),
                "{redirect_uri}: {location}"
            );
        } else {
            // An error page of the provider's own: nothing goes to an unknown address.
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect_uri}");
            assert_eq!(location, None, "{redirect_uri}");
        }
    }
}
