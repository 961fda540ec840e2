//! GraphiQL on `/graphiql`, pointed at `/graphql` and sending cookies. Its assets (pinned
//! production builds of React, ReactDOM and GraphiQL) are normally built into the binary by
//! `build.rs` and served from this origin, so the page works with no internet and its CSP names
//! no other origin. A binary built without npm falls back to the same pinned files from a CDN,
//! each checked by its Subresource Integrity hash, and says so when it starts.

use std::sync::LazyLock;

use poem::{
    IntoResponse, Response, handler,
    http::{StatusCode, header},
    web::{Html, Path},
};
use serde::Serialize;

/// One browser asset: where the CDN has it, its SRI hash, and its bytes when embedded.
pub struct Asset {
    pub name: &'static str,
    pub cdn_url: &'static str,
    pub integrity: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

mod generated {
    use super::Asset;
    include!(concat!(env!("OUT_DIR"), "/graphiql_assets.rs"));
}
use generated::{ASSETS, CDN_ORIGIN, EMBEDDED};

/// Where the page's assets come from.
const ASSET_PATH: &str = "/graphiql/assets";
/// The script that starts GraphiQL (`graphiql.js`), served from this origin in both variants.
pub const INIT_PATH: &str = "/graphiql/init.js";
const INIT_SCRIPT: &str = include_str!("graphiql.js");

/// What the page tells `graphiql.js`: the endpoint, that cookies go along, and the tabs to open
/// with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageConfig {
    url: &'static str,
    /// Where GraphiQL opens subscriptions: a WebSocket upgrade of the same path.
    subscription_url: Option<&'static str>,
    credentials: &'static str,
    /// GraphiQL's `defaultTabs`: used while the browser has no tabs of its own saved.
    default_tabs: &'static [Tab],
}

const CONFIG: PageConfig = PageConfig {
    url: "/graphql",
    subscription_url: Some("/graphql"),
    credentials: "include",
    default_tabs: &FIRST_STEPS,
};

#[derive(Serialize)]
struct Tab {
    query: &'static str,
}

/// This API's first steps, one tab each, in the order a newcomer runs them: from sign-up to a
/// graded quiz. The values in capitals are for the person to paste in.
const FIRST_STEPS: [Tab; 5] = [
    Tab {
        query: r#"# Welcome to Quiz LLM. These tabs go from sign-up
# to a graded quiz: run them in order with ▶
# (or Ctrl-Enter). Guides: README.md and docs/.
#
# 1. Sign up. Passwords: 10-128 characters, not
#    containing the username, not easy to guess.
mutation SignUp {
  signUp(input: {
    username: "ada"
    email: "ada@example.com"
    password: "plum-violin-harbour-7319"
  }) {
    user { id username isActive }
    message
  }
}
"#,
    },
    Tab {
        query: r#"# 2. Confirm the e-mail address. With no SMTP_URL,
#    e-mails are written as files to data/mail;
#    the newest one's link:
#      cat "$(ls -t data/mail/*.txt | head -n 1)"
#    Open the link in this browser and press
#    Confirm, or paste its uid and token below.
#    Either way, you are then logged in.
mutation VerifyEmail {
  verifyEmail(
    uid: "UID_FROM_THE_LINK"
    token: "TOKEN_FROM_THE_LINK"
  ) {
    user { username isActive }
    message
  }
}
"#,
    },
    Tab {
        query: r#"# 3. Log in (again later, or in another browser)
#    with the username or the e-mail address.
mutation Login {
  login(
    username: "ada"
    password: "plum-violin-harbour-7319"
  ) {
    user { username }
    accessTokenExpiresAt
    message
  }
}
"#,
    },
    Tab {
        query: r#"# 4. Generate a quiz. With no LLM_BASE_URL set,
#    it is built offline from the study text.
mutation GenerateQuiz {
  generateQuiz(input: {
    topic: "Apollo 11"
    questionCount: 3
    choiceCount: 4
    sourceText: "Apollo 11 was the first crewed mission to land on the Moon. It was launched by NASA from the Kennedy Space Center on July 16, 1969. The crew consisted of Neil A. Armstrong, Buzz Aldrin, and Michael Collins. Collins remained in lunar orbit aboard the command module Columbia. The lunar module was named Eagle, and it landed in the Sea of Tranquility."
  }) {
    id
    title
    questions {
      number
      content
      choices { number content }
    }
  }
}
"#,
    },
    Tab {
        query: r#"# 5. Answer it: paste the quiz id GenerateQuiz
#    returned, and pick a choice per question
#    (unanswered questions count as wrong).
mutation SubmitQuizAnswers {
  submitQuizAnswers(quizId: "QUIZ_ID", answers: [
    { questionNumber: 1, choiceNumber: 1 }
    { questionNumber: 2, choiceNumber: 2 }
    { questionNumber: 3, choiceNumber: 3 }
  ]) {
    correctCount
    totalQuestions
    score
    details {
      questionNumber
      question
      selectedContent
      correctContent
      isCorrect
    }
    feedback { summary }
  }
}
"#,
    },
];

/// Whether the assets are in the binary (else the page loads them from the CDN).
pub fn embedded() -> bool {
    EMBEDDED
}

/// Says once, at start-up, that this binary's GraphiQL needs the internet.
pub fn warn_if_not_embedded() {
    if !EMBEDDED {
        tracing::warn!(
            cdn = CDN_ORIGIN,
            "GraphiQL's assets were not built into this binary (npm or the registry was \
             unavailable at build time, or QUIZ_LLM_GRAPHIQL_ASSETS=cdn): /graphiql loads the \
             same pinned versions from the CDN, checked by SRI hashes"
        );
    }
}

/// Scripts and styles from this origin only (plus the CDN, by SRI, when not embedded); the
/// inline styles GraphiQL's editor sets on elements need `'unsafe-inline'` for styles, never
/// for scripts.
pub fn csp() -> String {
    let cdn = if EMBEDDED {
        String::new()
    } else {
        format!(" {CDN_ORIGIN}")
    };
    format!(
        "default-src 'none'; script-src 'self'{cdn}; style-src 'self' 'unsafe-inline'{cdn}; \
         font-src 'self' data:; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

fn asset_url(asset: &Asset) -> String {
    if EMBEDDED {
        format!("{ASSET_PATH}/{}", asset.name)
    } else {
        asset.cdn_url.to_owned()
    }
}

/// `integrity` and `crossorigin` for a CDN file; nothing for this origin's own.
fn integrity(asset: &Asset) -> String {
    if EMBEDDED {
        String::new()
    } else {
        format!(
            r#" integrity="{}" crossorigin="anonymous""#,
            asset.integrity
        )
    }
}

static PAGE: LazyLock<String> = LazyLock::new(|| {
    let tag = |asset: &Asset| {
        if asset.name.ends_with(".css") {
            format!(
                r#"<link rel="stylesheet" href="{}"{}>"#,
                asset_url(asset),
                integrity(asset)
            )
        } else {
            format!(
                r#"<script src="{}"{}></script>"#,
                asset_url(asset),
                integrity(asset)
            )
        }
    };
    let (styles, scripts): (Vec<&Asset>, Vec<&Asset>) =
        ASSETS.iter().partition(|a| a.name.ends_with(".css"));
    let styles: String = styles.into_iter().map(tag).collect();
    let scripts: String = scripts.into_iter().map(tag).collect::<Vec<_>>().join("\n");
    // `<` escaped, so the JSON can never close its script element.
    let config = serde_json::to_string(&CONFIG)
        .expect("the page config serializes")
        .replace('<', "\\u003c");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quiz LLM — GraphiQL</title>
{styles}
<link rel="stylesheet" href="{ASSET_PATH}/page.css">
</head>
<body>
<div id="graphiql">Loading…</div>
<script id="graphiql-config" type="application/json">{config}</script>
{scripts}
<script src="{INIT_PATH}"></script>
</body>
</html>
"#
    )
});

/// The page's own layout: GraphiQL fills the window.
const PAGE_CSS: &str = "html, body, #graphiql { height: 100%; margin: 0; }\n";

#[handler]
pub fn page() -> Html<&'static str> {
    Html(PAGE.as_str())
}

#[handler]
pub fn init_script() -> Response {
    static_file(
        INIT_SCRIPT.as_bytes(),
        "text/javascript; charset=utf-8",
        "no-cache",
    )
}

/// An embedded asset; versioned names never change, so browsers may keep them.
#[handler]
pub fn serve_asset(Path(name): Path<String>) -> Response {
    if name == "page.css" {
        return static_file(PAGE_CSS.as_bytes(), "text/css; charset=utf-8", "no-cache");
    }
    match ASSETS.iter().find(|a| EMBEDDED && a.name == name) {
        Some(asset) => static_file(
            asset.bytes,
            asset.content_type,
            "public, max-age=31536000, immutable",
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn static_file(bytes: &'static [u8], content_type: &str, cache: &str) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, cache)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_its_own_origin_or_pinned_files_with_their_hashes() {
        let html = PAGE.as_str();
        assert!(html.contains(r#""credentials":"include""#), "{html}");
        for asset in &ASSETS {
            if EMBEDDED {
                assert!(html.contains(&format!("{ASSET_PATH}/{}", asset.name)));
                assert!(!html.contains(asset.cdn_url));
            } else {
                assert!(html.contains(&format!(
                    r#"{}" integrity="{}" crossorigin="anonymous""#,
                    asset.cdn_url, asset.integrity
                )));
            }
        }
        assert_eq!(csp().contains("https:"), !EMBEDDED, "{}", csp());
    }
}
