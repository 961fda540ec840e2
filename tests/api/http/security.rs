//! Attacks on the HTTP and GraphQL surface: cross-site requests (both CSRF preflight headers),
//! oversized and abusive queries, slow clients, pages' security headers, and a panicking
//! handler that answers `INTERNAL` while the server carries on.

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, tcp::OwnedWriteHalf},
};

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

/// Which limit refused a request (`extensions.limit`); panics with the body when none did.
fn limit(r: &common::Gql) -> &str {
    r.errors()
        .and_then(|e| e[0]["extensions"]["limit"].as_str())
        .unwrap_or_else(|| panic!("expected a limit error, got {}", r.body))
}

/// `n` copies of `field`, space-separated.
fn repeat(field: &str, n: usize) -> String {
    vec![field; n].join(" ")
}

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

    let aliases: String = (0..150).map(|i| format!("a{i}: __typename ")).collect();
    let started = Instant::now();
    let r = c.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(limit(&r), "aliases");
    assert!(r.message().contains("aliases"), "{}", r.message());
    // Refused before any work: a generous bound, since a busy machine may pause any request.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );

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
    assert_eq!(limit(&r), "depth");
    assert!(r.message().contains("nested too deep"), "{}", r.message());

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
async fn root_field_limit_counts_through_fragments() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    let fields = repeat("__typename", 25);
    for query in [
        format!("{{ {fields} }}"),
        format!("{{ ...on QueryRoot {{ {fields} }} }}"),
        format!("{{ ... {{ {fields} }} }}"),
        format!("{{ ...F }} fragment F on QueryRoot {{ {fields} }}"),
        format!(
            "{{ ...F ...G }} fragment F on QueryRoot {{ {} }} fragment G on QueryRoot {{ {} }}",
            repeat("__typename", 12),
            repeat("__typename", 13)
        ),
    ] {
        let r = c.gql(&query, json!({})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{query}");
        assert_eq!(limit(&r), "rootFields", "{query}");
        assert!(r.message().contains("root fields"), "{}", r.message());
    }
    // At the limit, through a fragment, it runs.
    let r = c
        .gql(
            &format!(
                "{{ ...F }} fragment F on QueryRoot {{ {} }}",
                repeat("__typename", 20)
            ),
            json!({}),
        )
        .await
        .ok();
    assert_eq!(r.data()["__typename"], "QueryRoot");
}

#[tokio::test]
async fn complexity_limit_counts_every_field() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    // __schema + types + n names: 500 fields is the default limit.
    let query = |n| format!("{{ __schema {{ types {{ {} }} }} }}", repeat("name", n));
    let r = c.gql(&query(498), json!({})).await.ok();
    assert!(r.data()["__schema"]["types"].as_array().unwrap().len() > 20);
    let r = c.gql(&query(499), json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(limit(&r), "complexity");
    assert!(r.message().contains("too complex"), "{}", r.message());
    assert!(r.message().contains("501 fields"), "{}", r.message());

    // __typename is not free, nor is it when spread in from fragments.
    for query in [
        format!("{{ __schema {{ {} }} }}", repeat("__typename", 600)),
        format!(
            "{{ __schema {{ ...F ...F ...F }} }} fragment F on __Schema {{ {} }}",
            repeat("__typename", 200)
        ),
    ] {
        let r = c.gql(&query, json!({})).await;
        assert_eq!(limit(&r), "complexity", "{query}");
    }

    // A chain of fragments that each spread the next twice: 2^30 fields, refused at once.
    let mut bomb = String::from("{ __schema { ...F0 } }");
    for i in 0..30 {
        bomb += &format!(
            " fragment F{i} on __Schema {{ ...F{n} ...F{n} }}",
            n = i + 1
        );
    }
    bomb += " fragment F30 on __Schema { description }";
    let started = Instant::now();
    let r = c.gql(&bomb, json!({})).await;
    assert_eq!(limit(&r), "complexity");
    assert!(started.elapsed() < Duration::from_secs(2));
    // A fragment cycle is left to validation, which names it.
    let r = c
        .gql(
            "{ ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A }",
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn operation_names_are_short_graphql_names() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    let long = "N".repeat(101);
    let post = |query: String, operation: Option<&str>| {
        let body = json!({ "query": query, "operationName": operation });
        let http = c.http.clone();
        let url = format!("{}/graphql", app.base_url);
        async move {
            let body: Value = http
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        }
    };
    for (query, operation) in [
        // In the document and named by the request: one token, however long.
        (
            format!("query {long} {{ __typename }}"),
            Some(long.as_str()),
        ),
        (format!("query {long} {{ __typename }}"), None),
        (
            format!("query {long} {{ __typename }} query Short {{ __typename }}"),
            Some("Short"),
        ),
        // Named by the request alone, whatever the document holds.
        ("{ __typename }".to_owned(), Some(long.as_str())),
        (
            "query Short { __typename }".to_owned(),
            Some("Short or not"),
        ),
    ] {
        let body = post(query.clone(), operation).await;
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert_eq!(error["extensions"]["limit"], "operationName", "{body}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("at most 100 characters"),
            "{body}"
        );
        assert!(!body.to_string().contains(&long), "the name is not echoed");
        assert!(body.get("data").is_none_or(Value::is_null), "{body}");
    }
    let at_limit = "N".repeat(100);
    let body = post(
        format!("query {at_limit} {{ __typename }}"),
        Some(&at_limit),
    )
    .await;
    assert_eq!(body, json!({ "data": { "__typename": "QueryRoot" } }));
}

#[tokio::test]
async fn list_pages_cost_their_items() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let (c, _) = app.new_user("pager").await;
    let quiz =
        "edges { node { id title questions { number content choices { number content } } } }";
    // Twenty aliased pages of a hundred quizzes: about 220 fields as written, 20,000 answered.
    let aliased = |page: &str| {
        let pages: Vec<String> = (0..20)
            .map(|i| format!("q{i}: quizzes{page} {{ {quiz} }}"))
            .collect();
        format!("{{ {} }}", pages.join(" "))
    };
    for query in [aliased("(first: 100)"), aliased("")] {
        let r = c.gql(&query, json!({})).await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{query}");
        assert_eq!(limit(&r), "complexity", "{query}");
        assert!(r.message().contains("too complex"), "{}", r.message());
    }
    // One page of a hundred, sized by a variable or by the variable's default.
    let by_variable =
        format!("query Page($n: Int! = 100) {{ quizzes(first: $n) {{ totalCount {quiz} }} }}");
    for variables in [json!({ "n": 100 }), json!({})] {
        let r = c.gql(&by_variable, variables).await;
        assert_eq!(limit(&r), "complexity", "{}", r.body);
    }
    let r = c
        .gql(
            "{ quizResults(first: 100) { edges { node { id quizTitle details { question isCorrect } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(limit(&r), "complexity");

    // What the app and the load benchmark ask runs.
    let r = c.gql(&by_variable, json!({ "n": 20 })).await.ok();
    assert_eq!(r.data()["quizzes"]["totalCount"], 0);
    for query in [
        format!("{{ quizzes(first: 20) {{ totalCount {quiz} }} }}"),
        "{ quizzes(first: 3) { edges { node { id } } } }".to_owned(),
        "{ quizzes(first: 100) { edges { node { id } } } }".to_owned(),
        // e2e/operations/quiz.graphql
        "query Quizzes($first: Int! = 20, $after: String) { quizzes(first: $first, after: $after) \
         { totalCount pageInfo { hasNextPage endCursor } edges { node { id title questionCount } } } }"
            .to_owned(),
    ] {
        let r = c.gql(&query, json!({})).await.ok();
        assert_eq!(r.data()["quizzes"]["edges"], json!([]), "{query}");
    }
}

#[tokio::test]
async fn oversized_documents_are_refused_before_parsing() {
    let app = TestApp::spawn(Backend::Sqlite, |_| {}).await.unwrap();
    let c = app.client();
    // 80,000 fields, under the body size limit: refused by its token count.
    let query = format!("{{ __schema {{ {} }} }}", repeat("__typename", 80_000));
    assert!(query.len() < 1024 * 1024);
    let started = Instant::now();
    let r = c.gql(&query, json!({})).await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
    assert_eq!(limit(&r), "tokens");
    assert!(r.message().contains("2000 tokens"), "{}", r.message());
    assert!(started.elapsed() < Duration::from_secs(2));
    // Over GET too, before the method check parses it.
    let r = c
        .get(&format!(
            "/graphql?query={}",
            format!("{{ {} }}", repeat("__typename", 3000)).replace(' ', "%20")
        ))
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["limit"], "tokens", "{body}");
    // Comments and strings do not add up: this is a handful of tokens.
    let padding = "{ a ".repeat(20_000);
    let padded = format!("# {padding}\n{{ __type(name: \"{padding}\") {{ name }} }}");
    let r = c.gql(&padded, json!({})).await.ok();
    assert_eq!(r.data()["__type"], Value::Null);
    // GraphiQL's introspection query fits well under the default.
    assert!(quiz_llm::graphql::limits::count_tokens(INTROSPECTION, 2000) < 1000);
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let app = TestApp::spawn(Backend::Sqlite, |c| c.graphql.introspection = false)
        .await
        .unwrap();
    let c = app.client();
    // The introspection fields answer null: nothing about the schema comes back.
    for (query, field) in [
        ("{ __schema { types { name } } }", "__schema"),
        (r#"{ __type(name: "User") { fields { name } } }"#, "__type"),
    ] {
        let r = c.gql(query, json!({})).await.ok();
        assert_eq!(r.body, json!({ "data": { field: null } }));
    }
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

/// Short connection timeouts, so that the slow-client tests wait little.
fn short_timeouts(c: &mut quiz_llm::Settings) {
    c.server.connections.header_timeout = Duration::from_secs(1);
    c.server.connections.body_timeout = Duration::from_secs(1);
    c.server.connections.idle_timeout = Duration::from_secs(2);
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (end of stream or reset) and returns what it
/// sent; `None` if the connection is still open after `within`.
async fn read_until_closed(
    reader: &mut (impl AsyncRead + Unpin),
    within: Duration,
) -> Option<String> {
    let mut received = Vec::new();
    let mut buf = [0; 1024];
    let closed = tokio::time::timeout(within, async {
        while let Ok(n @ 1..) = reader.read(&mut buf).await {
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    closed
        .ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

/// Sends `bytes` over and over, one byte every 100 ms, until the server stops taking them.
fn trickle(mut writer: OwnedWriteHalf, bytes: &'static [u8]) {
    tokio::spawn(async move {
        for byte in bytes.iter().cycle() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });
}

#[tokio::test]
async fn slow_request_heads_are_cut_off() {
    let app = TestApp::spawn(Backend::Sqlite, short_timeouts)
        .await
        .unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = connect(&app).await.into_split();
    writer
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: quiz.test\r\n")
        .await
        .unwrap();
    // Every byte is progress, but the head never ends.
    trickle(writer, b"X-Slow: 1\r\n");
    let closed = read_until_closed(&mut reader, Duration::from_secs(6)).await;
    assert!(closed.is_some(), "the connection is still open after 6 s");
    // Cut by the head timeout, not for anything sooner.
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn trickled_bodies_are_cut_off() {
    let app = TestApp::spawn(Backend::Sqlite, short_timeouts)
        .await
        .unwrap();
    let (mut reader, mut writer) = connect(&app).await.into_split();
    writer
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: quiz.test\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    trickle(writer, b" ");
    let sent = read_until_closed(&mut reader, Duration::from_secs(6))
        .await
        .expect("the connection is still open after 6 s");
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("BAD_USER_INPUT"), "{sent}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let app = TestApp::spawn(Backend::Sqlite, short_timeouts)
        .await
        .unwrap();
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: quiz.test\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\nok") {
        let mut buf = [0; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before answering");
        response.extend_from_slice(&buf[..n]);
    }
    // Between requests the idle timeout (2 s) applies, not the shorter head timeout (1 s)...
    assert!(
        read_until_closed(&mut stream, Duration::from_millis(1500))
            .await
            .is_none(),
        "closed before the idle timeout"
    );
    // ...and it ends the connection.
    assert!(
        read_until_closed(&mut stream, Duration::from_secs(4))
            .await
            .is_some(),
        "the idle connection is still open"
    );
}

#[tokio::test]
async fn connection_cap_holds_and_health_answers_once_slow_clients_are_cut() {
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        short_timeouts(c);
        c.server.connections.max_connections = 4;
    })
    .await
    .unwrap();
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let r = app.client().get("/healthz").await;
    let waited = started.elapsed();
    assert_eq!(r.status(), 200);
    // It waited in the backlog until the slow connections' heads were late and they were cut.
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    for mut stream in slow {
        assert!(
            read_until_closed(&mut stream, Duration::from_secs(1))
                .await
                .is_some()
        );
    }
}

#[tokio::test]
async fn a_slow_answer_outlasts_the_connection_timeouts() {
    let (_fake, url) =
        common::fake_llm::start_fake(vec![common::fake_llm::Reply::Hang(Duration::from_secs(3))])
            .await;
    let app = TestApp::spawn(Backend::Sqlite, |c| {
        short_timeouts(c);
        c.llm.llm_base_url = Some(url);
        c.llm.llm_max_retries = 0;
    })
    .await
    .unwrap();
    let (c, _) = app.new_user("patient").await;
    let started = Instant::now();
    // Three seconds without a byte either way, longer than the head and idle timeouts: a request
    // being handled is not cut off.
    let r = c
        .generate_quiz(json!({ "topic": "Apollo 11", "sourceText": common::APOLLO_11 }))
        .await;
    assert_eq!(r.code(), "LLM_UNAVAILABLE", "{}", r.body);
    assert!(started.elapsed() >= Duration::from_secs(3));
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
