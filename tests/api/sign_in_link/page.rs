//! The link's page, `/sign-in-link?token=…`: opening it uses nothing; its Sign in button posts
//! back, which signs in (cookies) and goes to `returnTo`; a POST from another site is refused;
//! an account with TOTP finishes with its code on the page.

use std::{sync::Arc, time::Duration};

use reqwest::{StatusCode, header};
use serde_json::json;

use super::{REQUEST, SignInMail, sign_in_mails, with_link};
use crate::common::{Backend, Client, TestApp};

/// Where the test app says its pages are (`PUBLIC_URL`).
const SITE: &str = "http://quiz.test";

/// A browser that keeps cookies and does not follow redirects (the test reads where they go),
/// and the same browser speaking GraphQL.
fn browser(app: &TestApp) -> (reqwest::Client, Client) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let gql = Client {
        http: http.clone(),
        ..app.client()
    };
    (http, gql)
}

/// Presses the page's button: a form POST to the page's own address, with `headers` (a
/// browser's `Origin`, `Sec-Fetch-Site`) and `form` fields.
async fn press(
    app: &TestApp,
    http: &reqwest::Client,
    path: &str,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = http
        .post(format!("{}{path}", app.base_url))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

/// As a browser on this site's page sends it.
const FROM_THE_PAGE: &[(&str, &str)] = &[("origin", SITE), ("sec-fetch-site", "same-origin")];

async fn requested_with(app: &TestApp, email: &str, return_to: Option<&str>) -> SignInMail {
    let r = app
        .client()
        .gql(REQUEST, json!({ "e": email, "r": return_to }))
        .await
        .ok();
    assert_eq!(r.data()["requestSignInLink"], true);
    sign_in_mails(app, email)
        .await
        .pop()
        .expect("a sign-in e-mail")
}

fn cookie_names(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split('=').next().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_page_signs_in_only_when_its_button_posts() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let (_, email) = app.new_user("paged").await;
    let mail = requested_with(&app, &email, Some("/quizzes?tab=2")).await;
    let (http, gql) = browser(&app);

    // Opening the link (a person, or a mail scanner prefetching it) changes nothing.
    for _ in 0..2 {
        let resp = http
            .get(format!("{}{}", app.base_url, mail.path()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let csp = resp.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("form-action 'self'"), "{csp}");
        assert!(!csp.contains("script-src"), "no script runs: {csp}");
        assert_eq!(resp.headers()["referrer-policy"], "same-origin");
        assert!(cookie_names(&resp).is_empty());
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"<form method="post">"#), "{html}");
        assert!(
            html.contains(r#"<button id="sign-in" type="submit">Sign in</button>"#),
            "{html}"
        );
        assert!(!html.contains(&mail.token), "the token is not echoed");
        assert!(!html.contains("<script"), "{html}");
    }
    assert!(gql.me().await.ok().data()["me"].is_null());

    // Another site's form, a sandboxed one, or a cross-site fetch cannot use it.
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")][..],
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", SITE), ("sec-fetch-site", "same-site")][..],
    ] {
        let resp = press(&app, &http, &mail.path(), headers, &[]).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(cookie_names(&resp).is_empty(), "{headers:?}");
    }
    assert!(gql.me().await.ok().data()["me"].is_null());

    // The button: signed in, with the cookies, and on to returnTo.
    let resp = press(&app, &http, &mail.path(), FROM_THE_PAGE, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        resp.headers()[header::LOCATION],
        "http://quiz.test/quizzes?tab=2"
    );
    let cookies = cookie_names(&resp);
    assert!(cookies.contains(&"access".to_owned()), "{cookies:?}");
    assert!(cookies.contains(&"username".to_owned()), "{cookies:?}");
    assert_eq!(gql.me().await.ok().data()["me"]["username"], "paged");

    // Used: pressing again shows why, and the link is dead for GraphQL too.
    let resp = press(&app, &http, &mail.path(), FROM_THE_PAGE, &[]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let html = resp.text().await.unwrap();
    assert!(html.contains("invalid, expired or already used"), "{html}");
    assert_eq!(
        with_link(&app.client(), &mail.token).await.code(),
        "INVALID_TOKEN"
    );

    // Now logged in, the browser is warned whose session another link would end.
    let next = requested_with(&app, &email, None).await;
    let html = http
        .get(format!("{}{}", app.base_url, next.path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("You are logged in as <strong>paged</strong>."),
        "{html}"
    );
    // Without returnTo, the page goes to the front door.
    let resp = press(&app, &http, &next.path(), FROM_THE_PAGE, &[]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[header::LOCATION], "/");

    // A link cut short has nothing to press.
    let html = http
        .get(format!("{}/sign-in-link", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("This link is incomplete"), "{html}");
    assert!(!html.contains("<form"), "{html}");
}

/// The value of the hidden field `name` in the page's form.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_page_asks_an_account_with_totp_for_its_code() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let (owner, email) = app.new_user("pagedtotp").await;
    let (secret, _) = crate::mfa::turn_totp_on(&app, &owner).await;
    let (http, gql) = browser(&app);
    for (tampered, goes_to) in [
        (None, "http://quiz.test/review"),
        // What comes back from the page is checked again: elsewhere becomes the front door.
        (Some("https://evil.example/"), "/"),
    ] {
        app.clock.advance(Duration::from_secs(30));
        let mail = requested_with(&app, &email, Some("/review")).await;
        let resp = press(&app, &http, &mail.path(), FROM_THE_PAGE, &[]).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(cookie_names(&resp).is_empty(), "not signed in yet");
        let html = resp.text().await.unwrap();
        assert!(html.contains("authenticator app"), "{html}");
        let mfa_token = hidden(&html, "mfa_token");
        let return_to = tampered.map_or_else(|| hidden(&html, "return_to"), str::to_owned);
        assert!(gql.me().await.ok().data()["me"].is_null());
        let code = crate::mfa::code_now(&app, &secret);
        let form = [
            ("mfa_token", mfa_token.as_str()),
            ("code", code.as_str()),
            ("return_to", return_to.as_str()),
        ];
        let resp = press(&app, &http, &mail.path(), FROM_THE_PAGE, &form).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()[header::LOCATION], goes_to);
        assert_eq!(gql.me().await.ok().data()["me"]["username"], "pagedtotp");
        gql.logout().await.ok();
    }
}
