//! The landing pages of the e-mail links (GraphiQL's page is in `graphiql`), and the headers
//! every HTML page gets.

use base64::{Engine, engine::general_purpose::STANDARD};
use std::sync::LazyLock;

use poem::{
    Request, handler,
    middleware::SetHeader,
    web::{Data, Html},
};
use sha2::{Digest, Sha256};

use super::HttpState;
use crate::graphql::trusted::ServerDocument;

/// The verify page runs exactly one inline script, allowed by its hash and nothing else.
pub fn verify_email_csp() -> String {
    script_csp(VERIFY_EMAIL_SCRIPT)
}

pub fn reset_password_csp() -> String {
    script_csp(RESET_PASSWORD_SCRIPT)
}

/// A page with one inline script, allowed by its hash and nothing else.
fn script_csp(script: &str) -> String {
    let hash = STANDARD.encode(Sha256::digest(script.as_bytes()));
    format!(
        "default-src 'none'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// Headers for the HTML pages: a CSP, no MIME sniffing, no framing, no referrer leaks (the
/// verify page's URL carries a token).
pub fn html_headers(csp: &str) -> SetHeader {
    SetHeader::new()
        .overriding("content-security-policy", csp)
        .overriding("x-content-type-options", "nosniff")
        .overriding("x-frame-options", "DENY")
        .overriding("referrer-policy", "no-referrer")
        .overriding("cache-control", "no-store")
}

const VERIFY_EMAIL_SCRIPT: &str = include_str!("verify_email.js");
const RESET_PASSWORD_SCRIPT: &str = include_str!("reset_password.js");

/// The small pages e-mail links land on: one layout, a body, and one inline script (which the
/// page's CSP allows by hash). They read `uid` and `token` themselves; nothing from the URL is
/// echoed into HTML. The script sends its operation by id (`data-document-id`): the server
/// always trusts its own documents, so the pages work under `TRUSTED_DOCUMENTS=enforce` too.
fn link_page(title: &str, body: &str, script: &str, document: ServerDocument) -> String {
    let document_id = document.id();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Quiz LLM</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; color: #222; }}
.ok {{ color: #0a6b2d; }} .error {{ color: #a11; }}
.warning {{ background: #fff4d6; border: 1px solid #d9a400; padding: .6rem; }}
button {{ font-size: 1rem; padding: .4rem 1.2rem; }}
input {{ font-size: 1rem; padding: .4rem; width: 100%; box-sizing: border-box; }}
</style>
</head>
<body data-document-id="{document_id}">
<h1>Quiz LLM</h1>
{body}
<noscript><p class="error">This page needs JavaScript.</p></noscript>
<script>{script}</script>
</body>
</html>
"#
    )
}

static RESET_PASSWORD_PAGE: LazyLock<String> = LazyLock::new(|| {
    link_page(
        "Choose a new password",
        r#"<form id="reset">
<p><label for="password">New password (10 to 128 characters; a few uncommon words work well)</label></p>
<p><input id="password" type="password" autocomplete="new-password" minlength="10" maxlength="128" required></p>
<p><button type="submit">Set new password</button></p>
</form>
<p id="outcome" role="status"></p>"#,
        RESET_PASSWORD_SCRIPT,
        ServerDocument::ResetPassword,
    )
});

/// Who the browser opening a link page is, as far as the page needs to know.
enum Visitor {
    Anonymous,
    LoggedIn(String),
    /// It sent a token, but the store could not say whose.
    Unknown,
}

/// The verification page does nothing on its own: mail scanners open links too, and a link
/// someone else sent must not silently swap this browser's session for theirs. A person presses
/// Confirm, which runs `verifyEmail` from the browser (so the response's cookies land in it);
/// a browser already logged in is told so first. Nothing about the link's account is shown:
/// the page is the same for every link.
#[handler]
pub async fn verify_email(req: &Request, http: Data<&HttpState>) -> Html<String> {
    let token = http.cookies.access_token(req.headers());
    let visitor = match http.auth.logged_in_user(token.as_deref()).await {
        Ok(Some(user)) => Visitor::LoggedIn(user.username.to_string()),
        Ok(None) => Visitor::Anonymous,
        Err(err) => {
            tracing::warn!(error = ?err, "cannot tell who opened the verification page");
            Visitor::Unknown
        }
    };
    Html(verify_email_page(&visitor))
}

fn verify_email_page(visitor: &Visitor) -> String {
    let warning = match visitor {
        Visitor::Anonymous => String::new(),
        Visitor::LoggedIn(name) => format!(
            r#"<p id="warning" class="warning" role="alert">You are logged in as <strong>{}</strong>. Confirming logs this browser out of that account and into the account this link was sent to.</p>"#,
            escape_html(name)
        ),
        Visitor::Unknown => r#"<p id="warning" class="warning" role="alert">This browser may be logged in to an account. Confirming logs it into the account this link was sent to instead.</p>"#.to_owned(),
    };
    link_page(
        "Confirm your e-mail",
        &format!(
            r#"<p id="intro">Press Confirm to activate your account and log in.</p>
{warning}
<p><button id="confirm" type="button">Confirm</button></p>
<p id="outcome" role="status"></p>
<p id="next" hidden><a href="/graphiql">Open GraphiQL</a></p>"#
        ),
        VERIFY_EMAIL_SCRIPT,
        ServerDocument::VerifyEmail,
    )
}

/// Usernames are restricted to `[A-Za-z0-9_.-]` at sign-up; escaping anyway keeps the page safe
/// whatever the store holds.
fn escape_html(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

/// Asks for the new password and runs `resetPassword`.
#[handler]
pub fn reset_password() -> Html<&'static str> {
    Html(RESET_PASSWORD_PAGE.as_str())
}
