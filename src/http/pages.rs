//! The HTML pages: GraphiQL and the landing page of the e-mail link.

use async_graphql::http::{Credentials, GraphiQLSource};
use poem::{handler, web::Html};

#[handler]
pub fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("Quiz LLM — GraphiQL")
            .credentials(Credentials::Include)
            .finish(),
    )
}

/// Runs `verifyEmail` from the browser (so the response's cookies land in it) and shows the
/// outcome. The page reads `uid` and `token` itself; nothing from the URL is echoed into HTML.
#[handler]
pub fn verify_email() -> Html<&'static str> {
    Html(VERIFY_EMAIL_PAGE)
}

const VERIFY_EMAIL_PAGE: &str = concat!(
    r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Confirm your e-mail — Quiz LLM</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
.ok { color: #0a6b2d; } .error { color: #a11; }
</style>
</head>
<body>
<h1>Quiz LLM</h1>
<p id="outcome" role="status">Confirming your e-mail address…</p>
<p id="next" hidden><a href="/graphiql">Open GraphiQL</a></p>
<noscript><p class="error">This page needs JavaScript to confirm your address.</p></noscript>
<script>"#,
    include_str!("verify_email.js"),
    r#"</script>
</body>
</html>
"#
);
