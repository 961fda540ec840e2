//! Attacks on the HTTP and GraphQL surface: cross-site requests, oversized and abusive queries.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp};
use serde_json::{Value, json};

/// graphql-js's `getIntrospectionQuery()`, as GraphiQL and code generators send it.
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

async fn raw_post(
    app: &TestApp,
    client: &common::Client,
    content_type: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut req = client
        .http
        .post(format!("{}/graphql", app.base_url))
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn cross_site_form_posts_never_run_operations() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (browser, _) = app.new_user("victim").await;
    let logout = json!({ "query": "mutation { logout { message } }" }).to_string();
    for ct in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let (status, body) = raw_post(&app, &browser, ct, logout.clone()).await;
        assert_eq!(status, 400, "{ct:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        // The cookie-carrying request did nothing: still logged in.
        assert_eq!(browser.me().await.ok().data()["me"]["username"], "victim");
    }
    // A header only a preflighted request can carry lets a non-JSON type through.
    let resp = browser
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", "text/plain")
        .header("apollo-require-preflight", "true")
        .body(json!({ "query": "{ me { username } }" }).to_string())
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["me"]["username"], "victim");
}

#[tokio::test]
async fn abusive_queries_are_refused_quickly() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();

    let aliases: String = (0..2000).map(|i| format!("a{i}: __typename ")).collect();
    let started = Instant::now();
    let r = c.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(r.message().contains("aliases"), "{}", r.message());
    // Refused before any work: a generous bound, since a busy machine may pause any request.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

    let roots: String = (0..25).map(|_| "__typename ").collect();
    let r = c.gql(&format!("{{ {roots} }}"), json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");

    let mut deep = String::from("kind");
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let r = c
        .gql(
            &format!("{{ __schema {{ types {{ fields {{ type {{ {deep} }} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");

    // What real tools send still fits.
    let r = c.gql(INTROSPECTION, json!({})).await.ok();
    assert!(r.data()["__schema"]["types"].as_array().unwrap().len() > 20);

    let (status, body) = raw_post(
        &app,
        &c,
        Some("application/json"),
        Value::Array(vec![json!({ "query": "{ __typename }" }); 100]).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let huge =
        json!({ "query": "{ __typename }", "variables": { "x": "y".repeat(2 * 1024 * 1024) } });
    let (status, body) = raw_post(&app, &c, Some("application/json"), huge.to_string()).await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let app = TestApp::spawn(Backend::Sqlite, |c| c.graphql.introspection = false)
        .await
        .unwrap();
    let c = app.client();
    let r = c.gql("{ __schema { types { name } } }", json!({})).await;
    assert!(
        r.errors().is_some() || r.data()["__schema"].is_null(),
        "{}",
        r.body
    );
    let r = c.gql("{ mee { username } }", json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert!(!r.message().contains("Did you mean"), "{}", r.message());
    assert_eq!(
        c.gql("{ me { username } }", json!({})).await.ok().data()["me"],
        Value::Null
    );
}

#[tokio::test]
async fn html_pages_carry_security_headers() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    for path in ["/graphiql", "/verify-email?uid=x&token=y"] {
        let r = c.get(path).await;
        let h = r.headers().clone();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let csp = h["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        if path.starts_with("/verify-email") {
            // The CSP names the page's one inline script by its hash.
            use base64::Engine;
            use sha2::Digest;
            let html = r.text().await.unwrap();
            let script = html
                .split("<script>")
                .nth(1)
                .unwrap()
                .split("</script>")
                .next()
                .unwrap();
            let hash = base64::engine::general_purpose::STANDARD
                .encode(sha2::Sha256::digest(script.as_bytes()));
            assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
            assert!(csp.contains("default-src 'none'"));
        }
    }
}

const TEST_SECRET: &str = "test-secret-test-secret-test-secret!";

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

fn sign(alg: jsonwebtoken::Algorithm, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (browser, _) = app.new_user("target").await;
    let token = browser.login("target", common::PASSWORD).await.ok().data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = claims_of(&token);
    let anon = app.client();
    // Re-signed with the right key, HS256: accepted (the harness itself is sound).
    let same = sign(jsonwebtoken::Algorithm::HS256, &claims, TEST_SECRET);
    assert_eq!(
        anon.with_bearer(&same).me().await.ok().data()["me"]["username"],
        "target"
    );

    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        token.split('.').nth(1).unwrap()
    );
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("evil");
    let mut other_user = claims.clone();
    other_user["sub"] = json!(uuid::Uuid::new_v4().to_string());
    let mut wrong_typ = claims.clone();
    wrong_typ["typ"] = json!("refresh");
    let forged = [
        ("alg none", unsigned),
        (
            "HS512 with the right key",
            sign(jsonwebtoken::Algorithm::HS512, &claims, TEST_SECRET),
        ),
        (
            "another key",
            sign(
                jsonwebtoken::Algorithm::HS256,
                &claims,
                "another-secret-another-secret-xx",
            ),
        ),
        (
            "wrong aud",
            sign(
                jsonwebtoken::Algorithm::HS256,
                &wrong_aud,
                "another-secret-another-secret-xx",
            ),
        ),
        (
            "wrong aud, right key",
            sign(jsonwebtoken::Algorithm::HS256, &wrong_aud, TEST_SECRET),
        ),
        (
            "wrong iss, right key",
            sign(jsonwebtoken::Algorithm::HS256, &wrong_iss, TEST_SECRET),
        ),
        (
            "refresh typ",
            sign(jsonwebtoken::Algorithm::HS256, &wrong_typ, TEST_SECRET),
        ),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                token.split('.').next().unwrap(),
                b64(other_user.to_string().as_bytes()),
                token.split('.').nth(2).unwrap()
            ),
        ),
    ];
    for (what, bad) in forged {
        let r = anon.with_bearer(&bad).me().await;
        assert_eq!(r.code(), "UNAUTHENTICATED", "{what}");
        assert_eq!(
            anon.with_bearer(&bad).refresh().await.code(),
            "UNAUTHENTICATED",
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_rotated_key_still_verifies_old_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let db = quiz_llm::config::DatabaseUrl::Sqlite(Some(dir.path().join("shared.db")));
    let old = {
        let db = db.clone();
        TestApp::spawn(Backend::Sqlite, move |c| c.store.database_url = db)
            .await
            .unwrap()
    };
    let (browser, _) = old.new_user("rotator").await;
    let token =
        browser.login("rotator", common::PASSWORD).await.ok().data()["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
    let new = TestApp::spawn(Backend::Sqlite, move |c| {
        c.store.database_url = db;
        c.auth.jwt_secret = Some(quiz_llm::config::SecretString::from(
            "a-brand-new-secret-a-brand-new-secret",
        ));
        c.auth.jwt_previous_secrets = vec![quiz_llm::config::SecretString::from(TEST_SECRET)];
    })
    .await
    .unwrap();
    let c = new.client().with_bearer(&token);
    assert_eq!(c.me().await.ok().data()["me"]["username"], "rotator");
    // Refreshing re-signs with the new key, which names itself in `kid`.
    let fresh = c.refresh().await.ok().data()["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let kid_old = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let kid_new = jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap();
    assert_ne!(kid_old, kid_new);
    assert_eq!(
        new.client().with_bearer(&fresh).me().await.ok().data()["me"]["username"],
        "rotator"
    );
    // The old server, which does not know the new key, refuses the new token.
    assert_eq!(
        old.client().with_bearer(&fresh).me().await.code(),
        "UNAUTHENTICATED"
    );
}
