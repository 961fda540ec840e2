//! HTTP surface: GraphQL over GET and POST, health, pages, request errors, CORS.
//! Attacks on that surface, what it lets one learn about others, trusted documents and the
//! schema file are in the submodules.

mod exposure;
mod front_door;
mod schema;
mod security;
mod trusted_documents;

use crate::common;

use common::{Backend, TestApp};
use serde_json::json;

#[tokio::test]
async fn graphql_over_get_and_post() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    let r = c.get("/graphql?query=%7B__typename%7D").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "QueryRoot");

    let r = c
        .get("/graphql?query=mutation%20%7B%20logout%20%7B%20message%20%7D%20%7D")
        .await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // A named mutation picked out of a multi-operation document is refused too.
    // query A { __typename } mutation B { logout { message } }
    let q = "query%20A%20%7B%20__typename%20%7D%20mutation%20B%20%7B%20logout%20%7B%20message%20%7D%20%7D";
    let r = c.get(&format!("/graphql?query={q}&operationName=B")).await;
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn bad_requests_get_coded_errors() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    let r = c
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let r = c.gql("{ nope }", json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    let r = c.gql("{ me { ", json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn health_and_pages() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    assert_eq!(c.get("/healthz").await.status(), 200);
    assert_eq!(c.get("/readyz").await.status(), 200);
    let page = c.get("/graphiql").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/graphql"));
    assert!(html.contains("include"), "GraphiQL must send cookies");
    assert_eq!(c.get("/nope").await.status(), 404);
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        c.server.cors_origins = "https://app.example.com".parse().unwrap()
    })
    .await
    .unwrap();
    let preflight = |origin: &'static str| {
        let c = app.client();
        let url = format!("{}/graphql", app.base_url);
        async move {
            c.http
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://app.example.com").await;
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("https://evil.example.com").await;
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cookies_are_secure_when_configured() {
    let app = TestApp::spawn(Backend::Sqlite, |c| c.cookies.cookie_secure = true)
        .await
        .unwrap();
    let c = app.client();
    c.sign_up("secure", "secure@example.com", common::PASSWORD)
        .await
        .ok();
    let link = app.verification_link("secure@example.com");
    let r = c.verify_email(&link.uid, &link.token).await.ok();
    // Secure cookies take the __Host- prefix, and the server reads them back under that name.
    assert!(r.set_cookie("__Host-access").unwrap().contains("; Secure"));
    assert!(
        r.set_cookie("__Host-username")
            .unwrap()
            .contains("; Secure")
    );
    assert!(r.set_cookie("access").is_none());
}

/// A POST to /graphql with this `Accept`: status, content type and body.
async fn post_accepting(
    app: &TestApp,
    accept: &str,
    body: serde_json::Value,
) -> (u16, String, serde_json::Value) {
    let r = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("accept", accept)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, content_type, r.json().await.unwrap())
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

#[tokio::test]
async fn graphql_response_json_is_served_when_asked_with_the_spec_status_codes() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let ok = json!({ "query": "{ __typename }" });
    let (status, ct, body) = post_accepting(&app, GRAPHQL_RESPONSE_JSON, ok.clone()).await;
    assert_eq!(
        (status, body["data"]["__typename"].as_str()),
        (200, Some("QueryRoot"))
    );
    assert!(ct.starts_with(GRAPHQL_RESPONSE_JSON), "{ct}");
    // Preferred when listed first; application/json when the client prefers it or says nothing.
    let both = "application/graphql-response+json, application/json;q=0.9";
    assert!(
        post_accepting(&app, both, ok.clone())
            .await
            .1
            .starts_with(GRAPHQL_RESPONSE_JSON)
    );
    for accept in [
        "application/json",
        "*/*",
        "application/json, application/graphql-response+json;q=0.5",
    ] {
        let (status, ct, _) = post_accepting(&app, accept, ok.clone()).await;
        assert_eq!(status, 200);
        assert!(ct.starts_with("application/json"), "{accept}: {ct}");
    }

    // Requests that never run: parse, validation and variable-coercion failures.
    let refused = [
        json!({ "query": "{ me {" }),
        json!({ "query": "{ nope }" }),
        json!({ "query": "query($n: Int!) { quizzes(first: $n) { totalCount } }", "variables": { "n": "ten" } }),
    ];
    for request in refused {
        let (status, ct, body) = post_accepting(&app, GRAPHQL_RESPONSE_JSON, request.clone()).await;
        assert_eq!(status, 400, "{request}: {body}");
        assert!(ct.starts_with(GRAPHQL_RESPONSE_JSON), "{ct}");
        assert!(
            body.get("data").is_none(),
            "a request error has no data entry: {body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        // application/json keeps 200 for them (its clients read the body of a 200 only).
        let (status, ct, body) = post_accepting(&app, "application/json", request.clone()).await;
        assert_eq!(status, 200, "{request}: {body}");
        assert!(ct.starts_with("application/json"), "{ct}");
        assert!(body.get("data").is_none(), "{body}");
    }

    // An error while executing is no request error: 200, and the data entry is there.
    let (status, _, body) = post_accepting(
        &app,
        GRAPHQL_RESPONSE_JSON,
        json!({ "query": "{ sessions { id } }" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert!(body.get("data").is_some(), "{body}");

    // A body that is not JSON: 400 in the media type asked for.
    let r = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("accept", GRAPHQL_RESPONSE_JSON)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(GRAPHQL_RESPONSE_JSON)
    );
}

#[tokio::test]
async fn request_errors_never_echo_values_from_the_variables() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    let generate = "mutation($i: GenerateQuizInput!) { generateQuiz(input: $i) { id } }";
    let sign_up = "mutation($i: SignUpInput!) { signUp(input: $i) { message } }";
    let cases = [
        (
            generate,
            json!({ "i": { "topic": "x", "difficulty": "SECRET-enum-hunter2" } }),
        ),
        (
            generate,
            json!({ "i": { "topic": "x", "SECRET-key-hunter2": "SECRET-value-hunter2" } }),
        ),
        (
            sign_up,
            json!({ "i": { "username": "x", "email": "e@example.com", "password": ["SECRET-list-hunter2"] } }),
        ),
        (
            sign_up,
            json!({ "i": { "username": "x", "email": "e@example.com", "password": { "SECRET-obj-hunter2": 1 } } }),
        ),
        (
            "query($n: Int!) { quizzes(first: $n) { totalCount } }",
            json!({ "n": "SECRET-int-hunter2" }),
        ),
    ];
    for (query, variables) in cases {
        let r = c.gql(query, variables.clone()).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
        assert!(
            !r.body.to_string().contains("hunter2"),
            "{variables} echoed: {}",
            r.body
        );
        assert!(!r.message().is_empty());
    }
}
