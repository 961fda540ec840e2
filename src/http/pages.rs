//! The landing pages of the e-mail links (GraphiQL's page is in `graphiql`), and the headers
//! every HTML page gets. The verification and reset pages run one script each; the sign-in and
//! e-mail change pages run none: their forms post back to them.

use base64::{Engine, engine::general_purpose::STANDARD};
use std::sync::LazyLock;

use poem::{
    IntoResponse, Request, handler,
    http::{StatusCode, header},
    middleware::SetHeader,
    web::{Data, Html, Query},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::HttpState;
use strum::IntoEnumIterator;

use crate::{
    auth::{LinkSignIn, validate},
    domain::{AppError, ErrorCode, Locale, Message, MessageKey},
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
    let needs_js = escape_html(&text(locale, MessageKey::PageNeedsJavascript));
    let texts: String = [
        ("incomplete", MessageKey::PageLinkIncomplete),
        ("unreachable", MessageKey::PageUnreachable),
    ]
    .iter()
    .chain(script_texts)
    .map(|(name, key)| format!(" data-{name}=\"{}\"", escape_html(&text(locale, *key))))
    .collect();
    layout(
        locale,
        title,
        &format!(r#" data-document-id="{document_id}"{texts}"#),
        &format!(
            r#"{body}
<noscript><p class="error">{needs_js}</p></noscript>
<script>{script}</script>"#
        ),
    )
}

/// The layout every link page shares: `body_attributes` go on `<body>`, `body` after the
/// heading.
fn layout(locale: Locale, title: MessageKey, body_attributes: &str, body: &str) -> String {
    let lang = locale.as_str();
    let title = escape_html(&text(locale, title));
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
<body{body_attributes}>
<h1>Quiz LLM</h1>
{body}
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
    let (visitor, locale) = Visitor::of(req, &http).await;
    Html(verify_email_page(locale, &visitor))
}

impl Visitor {
    /// Who opened a link page, and the language to speak: theirs when logged in, else the
    /// browser's.
    async fn of(req: &Request, http: &HttpState) -> (Visitor, Locale) {
        let token = http.cookies.access_token(req.headers());
        let (visitor, preference) = match http.auth.logged_in_user(token.as_deref()).await {
            Ok(Some(user)) => (
                Visitor::LoggedIn(user.username.to_string()),
                Some(user.locale),
            ),
            Ok(None) => (Visitor::Anonymous, None),
            Err(err) => {
                tracing::warn!(error = ?err, "cannot tell who opened a link page");
                (Visitor::Unknown, None)
            }
        };
        let locale = Locale::resolve(preference, super::graphql::accept_language(req));
        (visitor, locale)
    }

    /// The warning for a browser that may lose its session by using the link: `logged_in`
    /// names the account (`$username`), `maybe` says the store could not tell.
    fn warning(&self, locale: Locale, logged_in: MessageKey, maybe: MessageKey) -> String {
        let alert =
            |html: String| format!(r#"<p id="warning" class="warning" role="alert">{html}</p>"#);
        match self {
            Visitor::Anonymous => String::new(),
            Visitor::LoggedIn(name) => {
                let sentence = render(locale, &Message::new(logged_in).with("username", NAME));
                alert(
                    escape_html(&sentence)
                        .replace(NAME, &format!("<strong>{}</strong>", escape_html(name))),
                )
            }
            Visitor::Unknown => alert(escape_html(&text(locale, maybe))),
        }
    }
}

/// Stands for the username while a sentence is escaped, so the name can be put in `<strong>`.
const NAME: &str = "\u{E000}";

fn verify_email_page(locale: Locale, visitor: &Visitor) -> String {
    let t = |key| escape_html(&text(locale, key));
    let warning = visitor.warning(
        locale,
        MessageKey::VerifyPageLoggedIn,
        MessageKey::VerifyPageMaybeLoggedIn,
    );
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

/// The sign-in page runs no script at all: its form posts back to the page's own address.
pub fn sign_in_link_csp() -> String {
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'"
        .into()
}

/// Headers for the pages whose forms post back (sign-in, e-mail change): those of every page,
/// but with the referrer policy `same-origin`, under which a browser's POST from the page
/// carries the page's real `Origin` (under `no-referrer` it would say `null`); no request
/// leaves the page for another origin.
pub fn sign_in_link_headers() -> SetHeader {
    html_headers(&sign_in_link_csp()).overriding("referrer-policy", "same-origin")
}

/// The token of the e-mailed link.
#[derive(Debug, Deserialize)]
pub struct SignInLinkQuery {
    token: Option<String>,
}

impl SignInLinkQuery {
    fn token(&self) -> Option<&str> {
        self.token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }
}

/// The sign-in link's landing page. Opening it uses nothing (mail scanners open links too):
/// a person presses Sign in, whose form posts back here ([`sign_in_with_link`]). A browser
/// already logged in is told whose session it would lose; nothing about the link's account is
/// shown.
#[handler]
pub async fn sign_in_link(
    req: &Request,
    Query(query): Query<SignInLinkQuery>,
    http: Data<&HttpState>,
) -> Html<String> {
    let (visitor, locale) = Visitor::of(req, &http).await;
    let t = |key| escape_html(&text(locale, key));
    let body = if query.token().is_none() {
        format!(
            r#"<p id="outcome" class="error" role="alert">{}</p>"#,
            t(MessageKey::PageLinkIncomplete)
        )
    } else {
        let warning = visitor.warning(
            locale,
            MessageKey::SignInPageLoggedIn,
            MessageKey::SignInPageMaybeLoggedIn,
        );
        format!(
            r#"<p id="intro">{}</p>
{warning}
<form method="post"><p><button id="sign-in" type="submit">{}</button></p></form>"#,
            t(MessageKey::SignInPageIntro),
            t(MessageKey::SignInPageButton)
        )
    };
    Html(layout(locale, MessageKey::SignInPageTitle, "", &body))
}

/// What the page's forms post: nothing for the first step; the token from `MFA_REQUIRED`, the
/// code and where to go for the second.
#[derive(Debug, Default)]
struct SignInForm {
    mfa_token: Option<String>,
    code: Option<String>,
    return_to: Option<String>,
}

impl SignInForm {
    /// A form body (`application/x-www-form-urlencoded`); unknown fields are ignored.
    fn parse(body: &[u8]) -> Self {
        let mut form = SignInForm::default();
        for (name, value) in url::form_urlencoded::parse(body) {
            let value = Some(value.into_owned()).filter(|v| !v.trim().is_empty());
            match name.as_ref() {
                "mfa_token" => form.mfa_token = value,
                "code" => form.code = value,
                "return_to" => form.return_to = value,
                _ => {}
            }
        }
        form
    }
}

/// The largest form body the page's forms can send, with room to spare.
const SIGN_IN_FORM_MAX_BYTES: usize = 8 * 1024;

/// The page's Sign in button: uses the link, sets the login cookies and goes (`303 See Other`)
/// to the `returnTo` given with the request, else `/`. An account with TOTP gets a form for
/// its code, which posts back here to finish. Refused (`403`, nothing used) unless the POST
/// comes from this site's page, so another site cannot log a visitor into someone else's
/// account; other failures show their message.
#[handler]
pub async fn sign_in_with_link(
    req: &Request,
    Query(query): Query<SignInLinkQuery>,
    body: poem::Body,
    http: Data<&HttpState>,
) -> poem::Response {
    let locale = Locale::resolve(None, super::graphql::accept_language(req));
    let public_url = &http.auth.settings().public_url;
    if !from_own_page(req, public_url) {
        return sign_in_failed(
            locale,
            StatusCode::FORBIDDEN,
            MessageKey::SignInPageNotFromHere.into(),
        );
    }
    let Ok(body) = body.into_bytes_limit(SIGN_IN_FORM_MAX_BYTES).await else {
        return sign_in_failed(
            locale,
            StatusCode::BAD_REQUEST,
            MessageKey::PageLinkIncomplete.into(),
        );
    };
    let form = SignInForm::parse(&body);
    let client = super::graphql::client_info(req, &http);
    let (return_to, outcome) = match (form.mfa_token, form.code) {
        (Some(mfa_token), Some(code)) => {
            // Back from the page: checked again, as if it were new.
            let return_to = validate::return_to(public_url, form.return_to.as_deref())
                .ok()
                .flatten();
            (
                return_to,
                http.auth.verify_mfa(&mfa_token, &code, &client).await,
            )
        }
        _ => {
            let token = query.token().unwrap_or_default();
            match http.auth.sign_in_with_link(token, &client).await {
                Ok(LinkSignIn { return_to, outcome }) => (return_to, outcome),
                Err(err) => return sign_in_error(locale, err),
            }
        }
    };
    match outcome {
        Ok(login) => {
            let mut response = poem::Response::builder()
                .status(StatusCode::SEE_OTHER)
                .header(header::LOCATION, return_to.as_deref().unwrap_or("/"));
            for cookie in http
                .cookies
                .login(&login.access, login.user.username.as_str())
            {
                response = response.header(header::SET_COOKIE, cookie);
            }
            response.finish()
        }
        Err(AppError::MfaRequired { mfa_token }) => {
            Html(second_step_page(locale, &mfa_token, return_to.as_deref())).into_response()
        }
        Err(err) => sign_in_error(locale, err),
    }
}

/// Whether a POST comes from a page of this site (`PUBLIC_URL`'s origin). A browser sends
/// `Origin` with every form POST (the page's, under its referrer policy; `null` from elsewhere
/// or from a sandbox) and `Sec-Fetch-Site` to secure origins; a program that sends neither
/// carries no visitor's cookies, so it can log nobody in against their will.
fn from_own_page(req: &Request, public_url: &str) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| !site.eq_ignore_ascii_case("same-origin")) {
        return false;
    }
    header(header::ORIGIN.as_str()).is_none_or(|origin| {
        origin
            .trim()
            .trim_end_matches('/')
            .eq_ignore_ascii_case(&super::subscriptions::origin_of(public_url))
    })
}

/// The second step for an account with TOTP: its code, with the token `MFA_REQUIRED` gave and
/// where to go, posted back to the page.
fn second_step_page(locale: Locale, mfa_token: &str, return_to: Option<&str>) -> String {
    let t = |key| escape_html(&text(locale, key));
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape_html(value)
        )
    };
    let return_to = return_to.map_or_else(String::new, |r| hidden("return_to", r));
    let body = format!(
        r#"<form method="post">
<p><label for="code">{}</label></p>
<p><input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus></p>
{}
{return_to}
<p><button type="submit">{}</button></p>
</form>"#,
        t(MessageKey::SignInPageCodeLabel),
        hidden("mfa_token", mfa_token),
        t(MessageKey::SignInPageCodeSubmit)
    );
    layout(locale, MessageKey::SignInPageTitle, "", &body)
}

/// The page for a sign-in that did not happen: the error's message (its cause is logged when
/// it is internal), with the status its code calls for.
fn sign_in_error(locale: Locale, err: AppError) -> poem::Response {
    let status = match err.code() {
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => {
            tracing::error!(error = ?err, "signing in by e-mail link failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    sign_in_failed(locale, status, err.message())
}

fn sign_in_failed(locale: Locale, status: StatusCode, message: Message) -> poem::Response {
    let body = format!(
        r#"<p id="outcome" class="error" role="alert">{}</p>
<p>{}</p>"#,
        escape_html(&render(locale, &message)),
        escape_html(&text(locale, MessageKey::SignInPageAskAgain))
    );
    let mut response = Html(layout(locale, MessageKey::SignInPageTitle, "", &body)).into_response();
    response.set_status(status);
    response
}

/// The two links of a change of e-mail address (`changeEmail`), whose pages work alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EmailChangeLink {
    /// Mailed to the new address: makes it the account's.
    Confirm,
    /// Mailed to the old address: cancels or reverts the change and ends every session.
    Undo,
}

impl EmailChangeLink {
    fn texts(self) -> (MessageKey, MessageKey, MessageKey) {
        match self {
            EmailChangeLink::Confirm => (
                MessageKey::ConfirmEmailChangePageIntro,
                MessageKey::VerifyPageConfirm,
                MessageKey::ConfirmEmailChangePageDone,
            ),
            EmailChangeLink::Undo => (
                MessageKey::UndoEmailChangePageIntro,
                MessageKey::UndoEmailChangePageButton,
                MessageKey::UndoEmailChangePageDone,
            ),
        }
    }
}

/// An e-mail change link's landing page, in the browser's language. Opening it uses nothing
/// (mail scanners open links too): a person presses the button, whose form posts back here.
fn email_change_page(req: &Request, query: &SignInLinkQuery, link: EmailChangeLink) -> String {
    let locale = Locale::resolve(None, super::graphql::accept_language(req));
    let t = |key| escape_html(&text(locale, key));
    let (intro, button, _) = link.texts();
    let body = if query.token().is_none() {
        format!(
            r#"<p id="outcome" class="error" role="alert">{}</p>"#,
            t(MessageKey::PageLinkIncomplete)
        )
    } else {
        format!(
            r#"<p id="intro">{}</p>
<form method="post"><p><button id="confirm" type="submit">{}</button></p></form>"#,
            t(intro),
            t(button)
        )
    };
    layout(locale, MessageKey::EmailChangePageTitle, "", &body)
}

/// The page's button: uses the link and says how it went. Refused (`403`, nothing used)
/// unless the POST comes from this site's page, as for the sign-in link.
async fn use_email_change_link(
    req: &Request,
    query: &SignInLinkQuery,
    http: &HttpState,
    link: EmailChangeLink,
) -> poem::Response {
    let locale = Locale::resolve(None, super::graphql::accept_language(req));
    let page = |status: StatusCode, message: Message, class: &str| {
        let body = format!(
            r#"<p id="outcome" class="{class}" role="alert">{}</p>"#,
            escape_html(&render(locale, &message))
        );
        let mut response =
            Html(layout(locale, MessageKey::EmailChangePageTitle, "", &body)).into_response();
        response.set_status(status);
        response
    };
    if !from_own_page(req, &http.auth.settings().public_url) {
        return page(
            StatusCode::FORBIDDEN,
            MessageKey::SignInPageNotFromHere.into(),
            "error",
        );
    }
    let token = query.token().unwrap_or_default();
    let client = super::graphql::client_info(req, http);
    let outcome = match link {
        EmailChangeLink::Confirm => http.auth.confirm_email_change(token, &client).await,
        EmailChangeLink::Undo => http.auth.undo_email_change(token, &client).await,
    };
    match outcome {
        Ok(()) => page(StatusCode::OK, link.texts().2.into(), "ok"),
        Err(err) => {
            let status = match err.code() {
                ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::Conflict => StatusCode::CONFLICT,
                ErrorCode::Internal => {
                    tracing::error!(error = ?err, ?link, "an e-mail change link failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, err.message(), "error")
        }
    }
}

/// `GET /confirm-email-change?token=…`.
#[handler]
pub fn confirm_email_change(req: &Request, Query(query): Query<SignInLinkQuery>) -> Html<String> {
    Html(email_change_page(req, &query, EmailChangeLink::Confirm))
}

/// `POST /confirm-email-change?token=…`: `confirmEmailChange`.
#[handler]
pub async fn confirm_email_change_now(
    req: &Request,
    Query(query): Query<SignInLinkQuery>,
    http: Data<&HttpState>,
) -> poem::Response {
    use_email_change_link(req, &query, &http, EmailChangeLink::Confirm).await
}

/// `GET /undo-email-change?token=…`.
#[handler]
pub fn undo_email_change(req: &Request, Query(query): Query<SignInLinkQuery>) -> Html<String> {
    Html(email_change_page(req, &query, EmailChangeLink::Undo))
}

/// `POST /undo-email-change?token=…`: `undoEmailChange`.
#[handler]
pub async fn undo_email_change_now(
    req: &Request,
    Query(query): Query<SignInLinkQuery>,
    http: Data<&HttpState>,
) -> poem::Response {
    use_email_change_link(req, &query, &http, EmailChangeLink::Undo).await
}
