//! Forged access tokens are refused (another algorithm, no signature, the wrong audience,
//! issuer or type, a changed subject), and tokens signed with a rotated-out key still verify.

use crate::common;

use common::{Backend, TestApp};
use serde_json::{Value, json};

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
    let db = quiz_llm::store::DatabaseUrl::Sqlite(Some(dir.path().join("shared.db")));
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
