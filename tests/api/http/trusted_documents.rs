//! Trusted documents: operations named by `documentId` or Apollo's persisted-query hash, over
//! GET and POST, looked up in the manifest; `enforce` refuses free text.

use std::path::Path;

use quiz_llm::{
    Application, Settings,
    graphql::trusted::{TrustMode, TrustedDocumentSettings},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{
    Backend, TestApp,
    ws::{self, LEGACY_WS, TRANSPORT_WS, Upgrade},
};

const ME: &str = "query Me { me { username } }";
const SCHEMA: &str = "query SchemaName { __schema { queryType { name } } }";
const LOGOUT: &str = "mutation Logout { logout { message } }";
const GUEST: &str = "mutation Guest { startGuestSession { accessToken } }";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a manifest of `documents` as GraphQL Code Generator does.
fn manifest(dir: &Path, documents: &[&str]) -> std::path::PathBuf {
    let path = dir.join("persisted-documents.json");
    let map: serde_json::Map<String, Value> =
        documents.iter().map(|d| (sha256(d), json!(d))).collect();
    std::fs::write(&path, serde_json::to_string(&map).unwrap()).unwrap();
    path
}

async fn app_with(mode: TrustMode, introspection: bool) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), &[ME, SCHEMA, LOGOUT, GUEST]);
    let app = TestApp::spawn(Backend::Sqlite, |s| {
        s.trusted_documents = TrustedDocumentSettings {
            trusted_documents: mode,
            trusted_documents_file: Some(file),
        };
        s.graphql.introspection = introspection;
    })
    .await
    .unwrap();
    (app, dir)
}

/// A POST with this body; status and JSON body.
async fn post(app: &TestApp, accept: &str, body: Value) -> (u16, Value) {
    let r = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .header("accept", accept)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn get(app: &TestApp, query: &str) -> (u16, Value) {
    let r = app.client().get(&format!("/graphql?{query}")).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

#[tokio::test]
async fn enforce_runs_trusted_documents_only() {
    let (app, _dir) = app_with(TrustMode::Enforce, true).await;
    let id = sha256(ME);
    let ran = |body: &Value| {
        body.get("data").is_some() && body["data"]["me"].is_null() && body.get("errors").is_none()
    };

    // By documentId (both spellings), over POST and GET, and by Apollo's hash.
    for body in [
        json!({ "documentId": id }),
        json!({ "documentId": format!("sha256:{id}") }),
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } } }),
        json!({ "documentId": id, "operationName": "Me", "variables": {} }),
    ] {
        let (status, answer) = post(&app, JSON, body.clone()).await;
        assert!(status == 200 && ran(&answer), "{body}: {status} {answer}");
    }
    let (status, answer) = get(&app, &format!("documentId={id}")).await;
    assert!(status == 200 && ran(&answer), "GET: {answer}");
    let extensions = format!(
        "extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22{id}%22%7D%7D"
    );
    let (status, answer) = get(&app, &extensions).await;
    assert!(
        status == 200 && ran(&answer),
        "GET with Apollo's hash: {answer}"
    );
    // A trusted mutation is still a mutation: not over GET.
    let (status, _) = get(&app, &format!("documentId={}", sha256(LOGOUT))).await;
    assert_eq!(status, 405);

    // Free text, even a trusted document's own text, is refused.
    for body in [json!({ "query": "{ __typename }" }), json!({ "query": ME })] {
        let (status, answer) = post(&app, JSON, body).await;
        assert_eq!((status, code(&answer)), (200, "OPERATION_NOT_TRUSTED"));
        assert!(answer.get("data").is_none(), "{answer}");
        let (status, answer) = post(&app, GRAPHQL_RESPONSE_JSON, json!({ "query": ME })).await;
        assert_eq!((status, code(&answer)), (400, "OPERATION_NOT_TRUSTED"));
    }
    let (_, answer) = get(&app, "query=%7B__typename%7D").await;
    assert_eq!(code(&answer), "OPERATION_NOT_TRUSTED");

    // An unknown id: not found (Apollo's client then sends the text, which enforce refuses).
    let (status, answer) = post(&app, JSON, json!({ "documentId": sha256("{ nope }") })).await;
    assert_eq!((status, code(&answer)), (200, "PERSISTED_QUERY_NOT_FOUND"));
    let apollo_retry = json!({
        "query": "{ __typename }",
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256("{ __typename }") } },
    });
    let (_, answer) = post(&app, JSON, apollo_retry).await;
    assert_eq!(code(&answer), "OPERATION_NOT_TRUSTED");
}

#[tokio::test]
async fn allow_runs_trusted_documents_and_free_text() {
    let (app, _dir) = app_with(TrustMode::Allow, true).await;
    let (_, answer) = post(&app, JSON, json!({ "documentId": sha256(ME) })).await;
    assert!(
        answer["data"]["me"].is_null() && answer.get("errors").is_none(),
        "{answer}"
    );
    let (_, answer) = post(&app, JSON, json!({ "query": "{ __typename }" })).await;
    assert_eq!(answer["data"]["__typename"], "QueryRoot");
    // Apollo's automatic persisted queries: the hash alone is not found, then hash and text run.
    let text = "{ __typename }";
    let hash_only =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(text) } } });
    let (_, answer) = post(&app, JSON, hash_only).await;
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_FOUND");
    assert!(
        answer["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("PersistedQueryNotFound")
    );
    let with_text = json!({ "query": text, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha256(text) } } });
    let (_, answer) = post(&app, JSON, with_text).await;
    assert_eq!(answer["data"]["__typename"], "QueryRoot");
    // Neither text nor id: a request error.
    let (status, answer) = post(&app, JSON, json!({ "variables": {} })).await;
    assert_eq!((status, code(&answer)), (400, "BAD_USER_INPUT"));
}

#[tokio::test]
async fn no_introspection_holds_for_trusted_documents_too() {
    let (open, _dir) = app_with(TrustMode::Enforce, true).await;
    let (_, answer) = post(&open, JSON, json!({ "documentId": sha256(SCHEMA) })).await;
    assert_eq!(
        answer["data"]["__schema"]["queryType"]["name"], "QueryRoot",
        "{answer}"
    );

    let (closed, _dir) = app_with(TrustMode::Enforce, false).await;
    let (_, answer) = post(&closed, JSON, json!({ "documentId": sha256(SCHEMA) })).await;
    assert!(
        !answer.to_string().contains("QueryRoot"),
        "the schema leaked: {answer}"
    );
}

#[tokio::test]
async fn a_manifest_that_does_not_match_its_hashes_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifest.json");
    std::fs::write(
        &path,
        json!({ sha256(ME): "mutation { logout { message } }" }).to_string(),
    )
    .unwrap();
    let settings = |mode, file: Option<&Path>| {
        let mut s = Settings::defaults();
        s.server.listen_addr = "127.0.0.1:0".parse().unwrap();
        s.store.database_url = quiz_llm::store::DatabaseUrl::Sqlite(None);
        s.trusted_documents = TrustedDocumentSettings {
            trusted_documents: mode,
            trusted_documents_file: file.map(Path::to_owned),
        };
        s
    };
    let err = Application::build(settings(TrustMode::Enforce, Some(&path)))
        .await
        .err()
        .expect("a forged entry is refused");
    assert!(
        format!("{err:#}").contains("is not the SHA-256 of its document"),
        "{err:#}"
    );
    let err = Application::build(settings(TrustMode::Enforce, None))
        .await
        .err()
        .expect("enforce needs a manifest");
    assert!(
        format!("{err:#}").contains("TRUSTED_DOCUMENTS_FILE"),
        "{err:#}"
    );
}

#[tokio::test]
async fn enforce_holds_for_every_operation_on_a_socket() {
    let (app, _dir) = app_with(TrustMode::Enforce, true).await;
    let (_, answer) = post(&app, JSON, json!({ "documentId": sha256(GUEST) })).await;
    let token = answer["data"]["startGuestSession"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no guest: {answer}"))
        .to_owned();
    let generate = r#"mutation { startQuizGeneration(input: { topic: "Moon", sourceText: "The Moon orbits the Earth." }) { id } }"#;
    for protocol in [TRANSPORT_WS, LEGACY_WS] {
        let mut s = ws::connect(
            &app.base_url,
            Upgrade {
                protocol,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        s.init(json!({ "authorization": format!("Bearer {token}") }))
            .await
            .unwrap();
        // Free text never runs: a query, introspection, a mutation, a subscription, nor even a
        // trusted document's own text.
        for (id, text) in [
            ("query", "{ __typename }"),
            ("introspection", "{ __schema { queryType { name } } }"),
            ("mutation", generate),
            ("subscription", "subscription { quizEvents { kind } }"),
            ("trusted-text", ME),
        ] {
            s.subscribe(id, text, json!({})).await;
            let refused = s.next_payload(id).await.unwrap();
            assert_eq!(
                refused["errors"][0]["extensions"]["code"], "OPERATION_NOT_TRUSTED",
                "{protocol} {id}: {refused}"
            );
            assert!(refused["data"].is_null(), "{refused}");
            assert_eq!(s.next_payload(id).await, None);
        }
        // Named documents run, by documentId or by Apollo's hash; an unknown id is not found.
        let kind = if protocol == TRANSPORT_WS {
            "subscribe"
        } else {
            "start"
        };
        let hash = sha256(ME);
        for (id, payload) in [
            ("by-id", json!({ "documentId": hash })),
            (
                "by-prefixed-id",
                json!({ "documentId": format!("sha256:{hash}") }),
            ),
            (
                "by-hash",
                json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }),
            ),
        ] {
            s.send(json!({ "id": id, "type": kind, "payload": payload }))
                .await;
            let ran = s.next_payload(id).await.unwrap();
            assert!(
                ran["data"]["me"]["username"].is_string() && ran.get("errors").is_none(),
                "{protocol} {id}: {ran}"
            );
            assert_eq!(s.next_payload(id).await, None);
        }
        s.send(json!({ "id": "unknown", "type": kind, "payload": { "documentId": sha256("{ nope }") } }))
            .await;
        let refused = s.next_payload("unknown").await.unwrap();
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
            "{refused}"
        );
    }
    // A multipart subscription is an HTTP request like any other.
    let r = app
        .client()
        .http
        .post(format!("{}/graphql", app.base_url))
        .bearer_auth(&token)
        .header(
            "accept",
            "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
        )
        .json(&json!({ "query": "subscription { quizEvents { kind } }" }))
        .send()
        .await
        .unwrap();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(code(&answer), "OPERATION_NOT_TRUSTED");
}

/// The id a page of the server names its operation by (its `data-document-id`).
async fn page_document_id(app: &TestApp, path: &str) -> String {
    let html = app.client().get(path).await.text().await.unwrap();
    let (_, rest) = html
        .split_once("data-document-id=\"")
        .unwrap_or_else(|| panic!("{path} names no document:\n{html}"));
    rest.split('"').next().unwrap().to_owned()
}

/// The server's own pages, `/verify-email` and `/reset-password`, work under `enforce` with a
/// manifest that does not list their operations: the server always trusts its own documents.
/// Here the requests are the pages' own, as their scripts send them.
#[tokio::test]
async fn the_servers_own_pages_work_under_enforce() {
    const SIGN_UP: &str = "mutation SignUp($i: SignUpInput!) { signUp(input: $i) { message } }";
    const RESET: &str = "mutation Forgot($e: String!) { requestPasswordReset(email: $e) }";
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), &[ME, SIGN_UP, RESET]);
    let app = TestApp::spawn(Backend::Sqlite, |s| {
        s.trusted_documents = TrustedDocumentSettings {
            trusted_documents: TrustMode::Enforce,
            trusted_documents_file: Some(file),
        };
    })
    .await
    .unwrap();
    let browser = app.client();
    let run = async |body: Value| -> Value {
        let r = browser
            .http
            .post(format!("{}/graphql", app.base_url))
            .header("origin", "http://quiz.test")
            .json(&body)
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    };
    let signed_up = run(json!({
        "documentId": sha256(SIGN_UP),
        "variables": { "i": { "username": "paula", "email": "paula@example.com", "password": crate::common::PASSWORD } },
    }))
    .await;
    assert!(signed_up.get("errors").is_none(), "{signed_up}");

    let link = app.verification_link("paula@example.com");
    let id = page_document_id(
        &app,
        &format!("/verify-email?uid={}&token={}", link.uid, link.token),
    )
    .await;
    let verified = run(json!({
        "documentId": id,
        "variables": { "uid": link.uid, "token": link.token },
    }))
    .await;
    assert_eq!(
        verified["data"]["verifyEmail"]["user"]["username"], "paula",
        "{verified}"
    );
    let me = run(json!({ "documentId": sha256(ME) })).await;
    assert_eq!(me["data"]["me"]["username"], "paula", "{me}");

    let asked =
        run(json!({ "documentId": sha256(RESET), "variables": { "e": "paula@example.com" } }))
            .await;
    assert_eq!(asked["data"]["requestPasswordReset"], true, "{asked}");
    let link = app.reset_link("paula@example.com").await;
    let id = page_document_id(
        &app,
        &format!("/reset-password?uid={}&token={}", link.uid, link.token),
    )
    .await;
    let reset = run(json!({
        "documentId": id,
        "variables": { "uid": link.uid, "token": link.token, "p": "a brand new violet harbor otter" },
    }))
    .await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");

    // Free text, even the pages' own, is still refused.
    let text = run(json!({
        "query": "mutation Verify($uid: String!, $token: String!) { verifyEmail(uid: $uid, token: $token) { user { username } message } }",
        "variables": { "uid": "x", "token": "y" },
    }))
    .await;
    assert_eq!(code(&text), "OPERATION_NOT_TRUSTED");
}
