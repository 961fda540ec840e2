//! A real OpenID Connect provider for the tests of signing in with one: oidc-provider (npm) run
//! by `tests/support/oidc-provider/server.mjs` as a child process on 127.0.0.1, one per test,
//! with one client of its own and the accounts the test gives. It is installed by
//! `scripts/oidc-test-provider.sh install`, which exports `OIDC_TEST_PROVIDER_DIR`; without that
//! variable the install folder of the current lock in `~/.cache/quiz-llm` is used. When neither
//! is there, [`TestProvider::start`] says so loudly and returns `None`, or panics under
//! `QUIZ_LLM_REQUIRE_OIDC=1` (as `scripts/test.sh` sets in CI).
//!
//! A test signs in like a browser: [`browser`] keeps cookies and follows no redirect by itself,
//! and [`TestProvider::sign_in`] walks the provider's login and consent pages and stops at the
//! redirect back to the client.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Once,
    time::Duration,
};

use reqwest::{
    Url,
    header::{CONTENT_TYPE, LOCATION},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
};

/// Set (to 1) by `scripts/test.sh` in CI: a provider that cannot run fails the test instead of
/// letting it pass without running.
pub const REQUIRE_OIDC: &str = "QUIZ_LLM_REQUIRE_OIDC";

/// How long the provider may take to print its issuer (Node starts in well under a second, but
/// the machine is shared and the tests run several at a time).
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// More pages than a sign-in ever shows (authorize, login, resume, consent, resume).
const MAX_STEPS: usize = 12;

/// The scopes [`TestProvider::authorization_url`] asks for: every claim the provider serves.
pub const SCOPES: &str = "openid email profile";

/// One provider process; it is killed when this is dropped.
pub struct TestProvider {
    /// `http://127.0.0.1:<port>`, as the provider names itself in discovery and its tokens.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    authorization_endpoint: String,
    log: PathBuf,
    // Dropped in this order: the process is killed before its folder goes.
    _stdout: Lines<BufReader<ChildStdout>>,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- the OpenID Connect provider's log ({}) ---\n{}",
                self.issuer,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl TestProvider {
    /// Starts a provider with one new client and `accounts`, a JSON object
    /// `{"<sub>": {"email", "email_verified", "name", "preferred_username"}}` (a null or missing
    /// field is left out; a login that is not listed signs in with only `sub`). `None` when the
    /// provider is not installed and [`REQUIRE_OIDC`] is not set.
    pub async fn start(accounts: Value) -> Option<TestProvider> {
        assert!(accounts.is_object(), "accounts must be a JSON object");
        quiz_llm::install_crypto_provider();
        let installed = match installed_dir() {
            Ok(dir) => dir,
            Err(why) => return not_installed(&why),
        };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("provider.log");
        let client_id = format!("quiz-llm-test-{}", uuid::Uuid::new_v4().simple());
        let client_secret = uuid::Uuid::new_v4().simple().to_string();
        let spawned = Command::new("node")
            .arg(source_dir().join("server.mjs"))
            .current_dir(&installed)
            .env("OIDC_TEST_PROVIDER_DIR", &installed)
            .env("PORT", "0")
            .env(
                "OIDC_TEST_CLIENTS",
                json!([{ "client_id": client_id, "client_secret": client_secret }]).to_string(),
            )
            .env("OIDC_TEST_ACCOUNTS", accounts.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return not_installed("`node` is not in PATH (Node 20 or newer is needed)");
            }
            Err(e) => panic!("could not start node: {e}"),
        };
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(START_TIMEOUT, stdout.next_line()).await;
        let issuer = match line {
            Ok(Ok(Some(line))) => serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|v| v["issuer"].as_str().map(str::to_owned))
                .unwrap_or_else(|| failed(&log, &format!("printed {line:?}, not its issuer"))),
            Ok(Ok(None)) => failed(&log, "exited before it listened"),
            Ok(Err(e)) => failed(&log, &format!("could not be read from ({e})")),
            Err(_) => failed(&log, &format!("printed no issuer within {START_TIMEOUT:?}")),
        };
        let discovery: Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
            .await
            .unwrap_or_else(|e| failed(&log, &format!("did not answer discovery: {e}")))
            .json()
            .await
            .unwrap();
        assert_eq!(discovery["issuer"], issuer, "{discovery}");
        Some(TestProvider {
            authorization_endpoint: discovery["authorization_endpoint"]
                .as_str()
                .unwrap()
                .to_owned(),
            issuer,
            client_id,
            client_secret,
            log,
            _stdout: stdout,
            _child: child,
            _dir: dir,
        })
    }

    /// The URL a client sends the browser to: the authorization code flow for this provider's
    /// client with PKCE S256 and [`SCOPES`].
    pub fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> String {
        Url::parse_with_params(
            &self.authorization_endpoint,
            [
                ("client_id", self.client_id.as_str()),
                ("response_type", "code"),
                ("scope", SCOPES),
                ("redirect_uri", redirect_uri),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", code_challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .unwrap()
        .to_string()
    }

    /// Goes to `authorization_url` in `browser` (see [`browser`]: it must keep cookies and must
    /// not follow redirects by itself) and does what a person would on the provider's pages:
    /// types `login` (the subject; the password is not checked) into the login form, accepts the
    /// consent page, and follows the provider's redirects between them. Returns the target of
    /// the first redirect that leaves the provider: the client's redirect URI with `code` and
    /// `state`, or with `error`. A browser that signed in before keeps the provider's session
    /// and is not asked again: sign in as someone else with another browser. Panics on any page
    /// that is neither a form nor a redirect (an error page, such as the one for a redirect URI
    /// the client may not use).
    pub async fn sign_in(
        &self,
        browser: &reqwest::Client,
        authorization_url: &str,
        login: &str,
    ) -> String {
        let provider = Url::parse(&self.issuer).unwrap().origin();
        let mut at = Url::parse(authorization_url).expect("an authorization URL");
        let mut request = browser.get(at.clone());
        for _ in 0..MAX_STEPS {
            let response = request.send().await.unwrap_or_else(|e| panic!("{at}: {e}"));
            assert_eq!(
                response.url(),
                &at,
                "the browser followed a redirect by itself: build it with \
                 redirect(Policy::none()), as oidc::browser() does"
            );
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_else(|| panic!("{status} without a Location at {at}"));
                let next = at.join(location).expect("a redirect URL");
                if next.origin() != provider {
                    return next.to_string();
                }
                at = next;
                request = browser.get(at.clone());
                continue;
            }
            let page = response.text().await.unwrap();
            assert!(status.is_success(), "{status} at {at}: {page}");
            let form = Form::find_in(&page)
                .unwrap_or_else(|| panic!("neither a form nor a redirect at {at}: {page}"));
            let fields: Vec<(String, String)> = form
                .inputs
                .into_iter()
                .map(|input| {
                    let value = if input.name == "login" {
                        login.to_owned()
                    } else if input.kind.eq_ignore_ascii_case("password") {
                        "not checked".to_owned()
                    } else {
                        input.value
                    };
                    (input.name, value)
                })
                .collect();
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            at = at.join(&form.action).expect("a form action");
            request = if form.method.eq_ignore_ascii_case("post") {
                browser
                    .post(at.clone())
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form_urlencoded(&pairs))
            } else {
                at.set_query(Some(&form_urlencoded(&pairs)));
                browser.get(at.clone())
            };
        }
        panic!("no redirect back to the client after {MAX_STEPS} pages (last: {at})")
    }
}

/// A browser for [`TestProvider::sign_in`]: it keeps cookies and follows no redirect by itself,
/// so the redirect back to the client (whose server a test may not have started) is seen and
/// not followed.
pub fn browser() -> reqwest::Client {
    quiz_llm::install_crypto_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `pairs` as an `application/x-www-form-urlencoded` body (or query).
pub fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// The provider was installed but did not come up: that is a failure, never a skip.
fn failed(log: &Path, what: &str) -> ! {
    panic!(
        "the OpenID Connect test provider {what}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    )
}

// --- finding the install ---------------------------------------------------------------------

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc-provider")
}

/// `OIDC_TEST_PROVIDER_DIR`, or the folder `scripts/oidc-test-provider.sh install` makes for the
/// current lock: `<cache>/oidc-provider/<first 16 hex digits of the SHA-256 of package.json and
/// package-lock.json>`.
fn installed_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var("OIDC_TEST_PROVIDER_DIR") {
        Ok(dir) if !dir.trim().is_empty() => PathBuf::from(dir.trim()),
        _ => {
            let cache = match std::env::var("QUIZ_LLM_CACHE") {
                Ok(cache) if !cache.is_empty() => PathBuf::from(cache),
                _ => Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/quiz-llm"),
            };
            let mut hash = Sha256::new();
            for file in ["package.json", "package-lock.json"] {
                hash.update(std::fs::read(source_dir().join(file)).unwrap());
            }
            let key: String = hash.finalize()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            cache.join("oidc-provider").join(key)
        }
    };
    if dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        Ok(dir)
    } else {
        Err(format!(
            "oidc-provider is not installed in {}",
            dir.display()
        ))
    }
}

fn not_installed(why: &str) -> Option<TestProvider> {
    static WARN: Once = Once::new();
    let how = "install it with `eval \"$(scripts/oidc-test-provider.sh install)\"` \
               (scripts/test.sh does)";
    if std::env::var(REQUIRE_OIDC).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_OIDC}=1 but the OpenID Connect test provider cannot run: {why}; {how}");
    }
    WARN.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! The OpenID Connect test provider cannot run ({why}): the tests that sign in \
             with it DID NOT RUN; {how} !!!\n"
        );
    });
    None
}

// --- the provider's pages --------------------------------------------------------------------

/// The first form of a page, read as far as the provider's simple pages need: its action,
/// method and named inputs, with their values.
struct Form {
    action: String,
    method: String,
    inputs: Vec<Input>,
}

struct Input {
    name: String,
    kind: String,
    value: String,
}

impl Form {
    fn find_in(page: &str) -> Option<Form> {
        let start = page.find("<form")?;
        let body = &page[start..];
        let body = &body[..body.find("</form>").unwrap_or(body.len())];
        let (tag, mut rest) = open_tag(body)?;
        let mut inputs = Vec::new();
        while let Some(i) = rest.find("<input") {
            let (input, after) = open_tag(&rest[i..])?;
            if let Some(name) = attribute(input, "name") {
                inputs.push(Input {
                    name,
                    kind: attribute(input, "type").unwrap_or_else(|| "text".into()),
                    value: attribute(input, "value").unwrap_or_default(),
                });
            }
            rest = after;
        }
        Some(Form {
            action: attribute(tag, "action").unwrap_or_default(),
            method: attribute(tag, "method").unwrap_or_else(|| "get".into()),
            inputs,
        })
    }
}

/// The tag at the start of `html` (up to its `>`) and what follows it.
fn open_tag(html: &str) -> Option<(&str, &str)> {
    let end = html.find('>')?;
    Some((&html[..end], &html[end + 1..]))
}

/// The value of attribute `name` in an open tag (quoted with `"` or `'`), its entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag.split_once(char::is_whitespace)?.1;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = rest[key_end..].trim_start();
        let value = match rest.strip_prefix('=') {
            Some(after) => {
                let after = after.trim_start();
                let quote = after.chars().next().filter(|&c| c == '"' || c == '\'');
                let (value, tail) = match quote {
                    Some(q) => after[1..].split_once(q).unwrap_or((&after[1..], "")),
                    None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
                };
                rest = tail;
                value
            }
            None => "",
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(unescape(value));
        }
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
