//! Owning an account: taking one's data along (`exportMyData`) and leaving (`deleteAccount`);
//! changing its address has a file of its own.

use serde_json::json;

pub(crate) mod deletion;
mod email_change;

use crate::common::{self, APOLLO_11, Backend, TestApp};

const EXPORT: &str = "{ exportMyData }";

on_every_store!(an_export_holds_the_callers_data_and_no_secret);

async fn an_export_holds_the_callers_data_and_no_secret(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, email) = app.new_user("ada").await;
    let r = c
        .generate_quiz(json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 3 }))
        .await
        .ok();
    let quiz_id = r.data()["generateQuiz"]["id"].as_str().unwrap().to_owned();
    c.submit(&quiz_id, &[(1, 1), (2, 1), (3, 1)]).await.ok();
    let login = c.login("ada", common::PASSWORD).await.ok();
    let token = common::token_of(&login, "login");

    let export = c.gql(EXPORT, json!({})).await.ok();
    let data = &export.data()["exportMyData"];
    assert_eq!(data["version"], 1);
    assert_eq!(data["profile"]["username"], "ada");
    assert_eq!(data["profile"]["email"], email);
    assert_eq!(data["profile"]["emailVerified"], true);
    assert_eq!(data["profile"]["hasPassword"], true);
    let sessions = data["sessions"].as_array().unwrap();
    assert!(!sessions.is_empty());
    assert!(
        sessions.iter().all(|s| s["signInMethod"] == "PASSWORD"),
        "{sessions:?}"
    );
    assert_eq!(data["factors"]["totp"]["enabled"], false);
    assert_eq!(data["emailChange"], json!(null));
    assert_eq!(data["quizzes"].as_array().unwrap().len(), 1);
    assert_eq!(data["quizzes"][0]["id"], quiz_id);
    assert_eq!(data["results"].as_array().unwrap().len(), 1);
    assert_eq!(data["results"][0]["quiz_id"], quiz_id);
    assert_eq!(data["review"]["cards"].as_array().unwrap().len(), 3);
    assert_eq!(data["review"]["logs"].as_array().unwrap().len(), 3);
    // No secret: not the password, its hash, a refresh token or the access token.
    let text = data.to_string();
    for secret in [common::PASSWORD, "$argon2", token.as_str()] {
        assert!(!text.contains(secret), "{secret:?} is in the export");
    }
    assert!(!text.to_lowercase().contains("refresh_token") && !text.contains("refreshToken"));

    // Another account exports its own data, none of ada's.
    let (other, _) = app.new_user("grace").await;
    other.login("grace", common::PASSWORD).await.ok();
    let theirs = other.gql(EXPORT, json!({})).await.ok();
    let theirs = &theirs.data()["exportMyData"];
    assert_eq!(theirs["profile"]["username"], "grace");
    assert_eq!(theirs["quizzes"], json!([]));
    assert_eq!(theirs["results"], json!([]));
    assert!(!theirs.to_string().contains(&quiz_id));

    // It needs a recent proof of who is asking, as changing a factor does.
    app.clock.advance(std::time::Duration::from_secs(10 * 60));
    assert_eq!(
        c.gql(EXPORT, json!({})).await.code(),
        "REAUTHENTICATION_REQUIRED"
    );
    assert_eq!(
        app.client().gql(EXPORT, json!({})).await.code(),
        "UNAUTHENTICATED"
    );
}
