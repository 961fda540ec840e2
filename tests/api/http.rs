//! HTTP surface: GraphQL over GET and POST, health, pages, request errors, CORS.

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
