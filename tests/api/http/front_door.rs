//! The first minute in a browser: the server's address leads to GraphiQL, and GraphiQL opens
//! with this API's own first steps, which work as written.

use crate::common;

use common::{Backend, TestApp};
use serde_json::{Value, json};

#[tokio::test]
async fn the_root_leads_a_browser_to_graphiql() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let not_following = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = not_following
        .get(format!("{}/", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/graphiql");

    let r = app.client().get("/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.url().path(), "/graphiql");
    assert!(r.text().await.unwrap().contains("GraphiQL"));
}

/// The queries of the tabs GraphiQL opens with, read from the page as the browser gets it.
async fn graphiql_tabs(app: &TestApp) -> Vec<String> {
    let html = app.client().get("/graphiql").await.text().await.unwrap();
    let config = html
        .split_once(r#"<script id="graphiql-config" type="application/json">"#)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .expect("the page carries its config");
    let config: Value = serde_json::from_str(config).unwrap();
    config["defaultTabs"]
        .as_array()
        .expect("GraphiQL gets default tabs")
        .iter()
        .map(|tab| tab["query"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn graphiql_opens_with_the_first_steps_and_they_work_as_written() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let tabs = graphiql_tabs(&app).await;
    let names: Vec<&str> = tabs
        .iter()
        .map(|q| {
            q.split_once("mutation ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        names,
        [
            "SignUp",
            "VerifyEmail",
            "Login",
            "GenerateQuiz",
            "SubmitQuizAnswers"
        ]
    );

    // Run in order by one browser, pasting in what the comments ask for. GraphiQL is a page:
    // its POSTs carry `Origin`, so it works on the cookie alone, never a bearer token.
    let graphiql = app.config.auth.public_url.clone();
    let browser = app.client().in_page(&graphiql);
    let sign_up = browser.gql(&tabs[0], json!({})).await.ok();
    assert_eq!(sign_up.data()["signUp"]["user"]["isActive"], false);
    let email = "ada@example.com";
    assert!(
        tabs[1].contains("data/mail"),
        "the tab says where the e-mail is"
    );
    let link = app.verification_link(email);
    let verify = tabs[1]
        .replace("UID_FROM_THE_LINK", &link.uid)
        .replace("TOKEN_FROM_THE_LINK", &link.token);
    let verified = browser.gql(&verify, json!({})).await.ok();
    assert_eq!(verified.data()["verifyEmail"]["user"]["isActive"], true);

    let elsewhere = app.client().in_page(&graphiql);
    let login = elsewhere.gql(&tabs[2], json!({})).await.ok();
    assert_eq!(login.data()["login"]["user"]["username"], "ada");

    let quiz = browser.gql(&tabs[3], json!({})).await.ok();
    let quiz = &quiz.data()["generateQuiz"];
    assert_eq!(quiz["questions"].as_array().unwrap().len(), 3);
    let submit = tabs[4].replace("QUIZ_ID", quiz["id"].as_str().unwrap());
    let result = browser.gql(&submit, json!({})).await.ok();
    assert_eq!(result.data()["submitQuizAnswers"]["totalQuestions"], 3);
}
