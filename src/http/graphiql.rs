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

/// What the page tells `graphiql.js`: the endpoint, and that cookies go along.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageConfig {
    url: &'static str,
    /// Where GraphiQL opens subscriptions: a WebSocket upgrade of the same path.
    subscription_url: Option<&'static str>,
    credentials: &'static str,
}

const CONFIG: PageConfig = PageConfig {
    url: "/graphql",
    subscription_url: Some("/graphql"),
    credentials: "include",
};

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
