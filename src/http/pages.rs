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
use strum::IntoEnumIterator;

use crate::{
    domain::{Locale, Message, MessageKey},
    graphql::trusted::ServerDocument,
    i18n::{render, text},
};

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
/// echoed into HTML. The script sends its operation by id (`data-document-id`) and takes the
/// texts it shows from `data-*` attributes, so one script (one hash) serves every language.
/// The server always trusts its own documents, so the pages work under
/// `TRUSTED_DOCUMENTS=enforce` too.
fn link_page(
    locale: Locale,
    title: MessageKey,
    body: &str,
    script: &str,
    document: ServerDocument,
    script_texts: &[(&str, MessageKey)],
) -> String {
    let document_id = document.id();
    let lang = locale.as_str();
    let title = escape_html(&text(locale, title));
    let needs_js = escape_html(&text(locale, MessageKey::PageNeedsJavascript));
    let texts: String = [
        ("incomplete", MessageKey::PageLinkIncomplete),
        ("unreachable", MessageKey::PageUnreachable),
    ]
    .iter()
    .chain(script_texts)
    .map(|(name, key)| format!(" data-{name}=\"{}\"", escape_html(&text(locale, *key))))
    .collect();
    format!(
        r#"<!doctype html>
<html lang="{lang}">
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
<body data-document-id="{document_id}"{texts}>
<h1>Quiz LLM</h1>
{body}
<noscript><p class="error">{needs_js}</p></noscript>
<script>{script}</script>
</body>
</html>
"#
    )
}

fn reset_password_page(locale: Locale) -> String {
    let t = |key| escape_html(&text(locale, key));
    link_page(
        locale,
        MessageKey::ResetPageTitle,
        &format!(
            r#"<form id="reset">
<p><label for="password">{}</label></p>
<p><input id="password" type="password" autocomplete="new-password" minlength="10" maxlength="128" required></p>
<p><button type="submit">{}</button></p>
</form>
<p id="outcome" role="status"></p>"#,
            t(MessageKey::ResetPageLabel),
            t(MessageKey::ResetPageSubmit)
        ),
        RESET_PASSWORD_SCRIPT,
        ServerDocument::ResetPassword,
        &[("done", MessageKey::ResetPageDone)],
    )
}

/// Each language's reset page, made once.
static RESET_PASSWORD_PAGES: LazyLock<Vec<(Locale, String)>> = LazyLock::new(|| {
    Locale::iter()
        .map(|locale| (locale, reset_password_page(locale)))
        .collect()
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
/// the page is the same for every link. It speaks the logged-in visitor's language, else the
/// browser's.
#[handler]
pub async fn verify_email(req: &Request, http: Data<&HttpState>) -> Html<String> {
    let token = http.cookies.access_token(req.headers());
    let (visitor, preference) = match http.auth.logged_in_user(token.as_deref()).await {
        Ok(Some(user)) => (
            Visitor::LoggedIn(user.username.to_string()),
            Some(user.locale),
        ),
        Ok(None) => (Visitor::Anonymous, None),
        Err(err) => {
            tracing::warn!(error = ?err, "cannot tell who opened the verification page");
            (Visitor::Unknown, None)
        }
    };
    let locale = Locale::resolve(preference, super::graphql::accept_language(req));
    Html(verify_email_page(locale, &visitor))
}

/// Stands for the username while a sentence is escaped, so the name can be put in `<strong>`.
const NAME: &str = "\u{E000}";

fn verify_email_page(locale: Locale, visitor: &Visitor) -> String {
    let t = |key| escape_html(&text(locale, key));
    let warning = match visitor {
        Visitor::Anonymous => String::new(),
        Visitor::LoggedIn(name) => {
            let sentence = render(
                locale,
                &Message::new(MessageKey::VerifyPageLoggedIn).with("username", NAME),
            );
            format!(
                r#"<p id="warning" class="warning" role="alert">{}</p>"#,
                escape_html(&sentence)
                    .replace(NAME, &format!("<strong>{}</strong>", escape_html(name)))
            )
        }
        Visitor::Unknown => format!(
            r#"<p id="warning" class="warning" role="alert">{}</p>"#,
            t(MessageKey::VerifyPageMaybeLoggedIn)
        ),
    };
    link_page(
        locale,
        MessageKey::VerifyPageTitle,
        &format!(
            r#"<p id="intro">{}</p>
{warning}
<p><button id="confirm" type="button">{}</button></p>
<p id="outcome" role="status"></p>
<p id="next" hidden><a href="/graphiql">{}</a></p>"#,
            t(MessageKey::VerifyPageIntro),
            t(MessageKey::VerifyPageConfirm),
            t(MessageKey::VerifyPageGraphiql)
        ),
        VERIFY_EMAIL_SCRIPT,
        ServerDocument::VerifyEmail,
        &[
            ("working", MessageKey::VerifyPageWorking),
            ("welcome", MessageKey::VerifyPageWelcome),
        ],
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

/// Asks for the new password and runs `resetPassword`, in the browser's language.
#[handler]
pub fn reset_password(req: &Request) -> Html<&'static str> {
    let locale = Locale::resolve(None, super::graphql::accept_language(req));
    let (_, page) = RESET_PASSWORD_PAGES
        .iter()
        .find(|(l, _)| *l == locale)
        .expect("every locale has a page");
    Html(page.as_str())
}
