//! Shared test harness: starts the whole application in-process on port 0 (SQLite in memory or
//! in a file, or MongoDB when `MONGODB_TEST_URL` is set), and talks to it over HTTP like a
//! browser, keeping cookies.

pub mod fake_llm;
pub mod fake_oidc;
pub mod mailbox;
pub mod nodes;
pub mod oidc;
pub mod passkey;
pub mod process;
pub mod smtp;
pub mod ws;

use std::{
    io::Write,
    sync::{Arc, Once},
    time::Duration,
};

use quiz_llm::{
    Application, Overrides, Settings,
    auth::{breached::BreachSource, password::HashCost},
    config::SecretString,
    domain::OffsetClock,
    mail::Mailer,
    store::{DatabaseUrl, Store, StoreFixtures},
};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One in-memory connection: quick, but not what production runs.
    Sqlite,
    /// The production shape: a WAL file in a temporary folder behind the default pool of
    /// several connections, so races between connections happen here.
    SqliteFile,
    Mongo,
}

/// Set (to 1) by `scripts/test.sh`: the MongoDB variants must run, so a missing server fails
/// them instead of letting them pass without running.
pub const REQUIRE_MONGO: &str = "QUIZ_LLM_REQUIRE_MONGO";

/// The MongoDB server to test against, if any. Without one, says so loudly, once per test
/// binary, on the real stderr (not the captured test output) — or panics when
/// [`REQUIRE_MONGO`] is set.
/// The wall clock at the precision the stores keep (milliseconds), for records made in tests.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use quiz_llm::domain::Clock;
    quiz_llm::domain::SystemClock.now()
}

pub fn mongodb_test_url() -> Option<String> {
    static WARN: Once = Once::new();
    match std::env::var("MONGODB_TEST_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ if std::env::var(REQUIRE_MONGO).is_ok_and(|v| v == "1") => panic!(
            "MONGODB_TEST_URL is not set, but {REQUIRE_MONGO}=1 requires the MongoDB variants to \
             run (start a server with `eval \"$(scripts/mongo-test-server.sh start)\"`)"
        ),
        _ => {
            WARN.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!! MONGODB_TEST_URL is not set: the MongoDB variants of these tests DID NOT RUN \
                     (start one with `eval \"$(scripts/mongo-test-server.sh start)\"`) !!!\n"
                );
            });
            None
        }
    }
}

/// A MongoDB URL naming a fresh database of its own, so parallel tests never meet.
pub fn mongo_url_with_fresh_db(base: &str) -> (String, String) {
    let db = format!("quiz_llm_test_{}", uuid::Uuid::new_v4().simple());
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let hosts_end = head[scheme_end..]
        .find('/')
        .map_or(head.len(), |i| scheme_end + i);
    let mut url = format!("{}/{db}", &head[..hosts_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    (url, db)
}

/// Drops a test database when the test ends, pass or fail.
pub struct MongoDbGuard {
    url: String,
    db: String,
}

impl Drop for MongoDbGuard {
    fn drop(&mut self) {
        let (url, db) = (self.url.clone(), self.db.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(client) = mongodb::Client::with_uri_str(&url).await {
                    let _ = client.database(&db).drop().await;
                }
            });
        })
        .join();
    }
}

/// Keeps a test's database (its temporary folder, or its MongoDB database) for the test.
#[derive(Default)]
pub struct DbGuard {
    _dir: Option<tempfile::TempDir>,
    _mongo: Option<MongoDbGuard>,
}

/// A database for a test: `None` when the backend cannot run here (MongoDB without a URL).
pub fn database_for(backend: Backend) -> Option<(DatabaseUrl, DbGuard)> {
    match backend {
        Backend::Sqlite => Some((DatabaseUrl::Sqlite(None), DbGuard::default())),
        Backend::SqliteFile => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = DatabaseUrl::Sqlite(Some(dir.path().join("quiz-llm.db")));
            Some((
                url,
                DbGuard {
                    _dir: Some(dir),
                    _mongo: None,
                },
            ))
        }
        Backend::Mongo => {
            let base = mongodb_test_url()?;
            let (url, db) = mongo_url_with_fresh_db(&base);
            Some((
                DatabaseUrl::Mongo(SecretString::from(url.clone())),
                DbGuard {
                    _dir: None,
                    _mongo: Some(MongoDbGuard { url, db }),
                },
            ))
        }
    }
}

pub struct TestApp {
    pub base_url: String,
    /// The app's own `/metrics` (every test app serves them, on a port of its own).
    pub metrics_url: String,
    /// Where the app's e-mail goes, unless the test pointed it at an SMTP server.
    pub mailbox: Arc<mailbox::MemoryMailer>,
    pub store: Arc<dyn Store>,
    pub config: Settings,
    /// The application's clock: `clock.advance(…)` jumps past an expiry without sleeping.
    pub clock: OffsetClock,
    /// `housekeeping.run_now().await` runs the periodic clean-up (after `clock.advance`).
    pub housekeeping: Arc<quiz_llm::auth::Housekeeping>,
    /// The link mails the app answered for and is still queueing (see `mail_queued`).
    deferred_mail: tokio_util::task::TaskTracker,
    /// Dropping it (or the whole `TestApp`) starts the shutdown.
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _tmp: tempfile::TempDir,
    _db: DbGuard,
}

impl TestApp {
    /// Starts the app with test defaults, adjusted by `tweak`. `None` when the backend is not
    /// available (the caller returns; the loud line was already printed).
    pub async fn spawn(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let (database_url, guard) = database_for(backend)?;
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut config = Settings::defaults();
        config.server.listen_addr = "127.0.0.1:0".parse().unwrap();
        // No load balancer to drain away from: shutting down stops accepting at once.
        config.server.shutdown_drain = Duration::ZERO;
        config.store.database_url = database_url;
        config.auth.jwt_secret = Some(SecretString::from("test-secret-test-secret-test-secret!"));
        config.mail.mail_dir = tmp.path().join("mail");
        config.auth.public_url = "http://quiz.test".into();
        // Tests make many requests from one address; the rate-limit tests set their own.
        config.auth.rate_limits = generous_rate_limits();
        // No test reaches the internet; the breached-password tests start their own range API.
        config.auth.pwned_passwords_url = BreachSource::Off;
        // Thousands of hashes per run; tests that measure hashing's cost set it back.
        config.auth.hash_cost = HashCost::minimal();
        // Sockets notice an ended session within this (1 s in production).
        config.subscriptions.session_check_interval = Duration::from_millis(100);
        // Tests read the subscription gauge to know when a subscription listens.
        config.telemetry.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        tweak(&mut config);
        // A test that set SMTP_URL talks to its own mail server.
        let capture_mail = config.mail.smtp_url.is_none();
        Some(TestApp::launch(config, capture_mail, tmp, guard, "the app").await)
    }

    /// Like [`TestApp::spawn`], but on a database other processes can share: the SQLite file
    /// in place of the in-memory one.
    pub async fn spawn_shareable(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let backend = match backend {
            Backend::Sqlite => Backend::SqliteFile,
            other => other,
        };
        TestApp::spawn(backend, tweak).await
    }

    /// Another server process on the same database (a file or MongoDB), with its own clock,
    /// mailbox and settings (`tweak` applied to this one's). The database stays this app's.
    pub async fn spawn_sharing(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut config = self.config.clone();
        config.mail.mail_dir = tmp.path().join("mail");
        tweak(&mut config);
        TestApp::launch(config, true, tmp, DbGuard::default(), "the second app").await
    }

    /// Builds and runs the app on `config` with its own clock, and its mail captured in memory
    /// when `capture_mail`.
    async fn launch(
        config: Settings,
        capture_mail: bool,
        tmp: tempfile::TempDir,
        db: DbGuard,
        what: &str,
    ) -> TestApp {
        let clock = OffsetClock::new();
        let mailbox = Arc::new(mailbox::MemoryMailer::default());
        let overrides = Overrides {
            clock: Some(Arc::new(clock.clone())),
            mailer: capture_mail.then(|| mailbox.clone() as Arc<dyn Mailer>),
        };
        let app = Application::build_with(config.clone(), overrides)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{what} did not start on {:?}: {e:#}",
                    config.store.database_url
                )
            });
        let base_url = format!("http://{}", app.local_addr());
        let metrics_url = format!(
            "http://{}/metrics",
            app.metrics_addr().expect("test apps serve metrics")
        );
        let store = app.store();
        let housekeeping = app.housekeeping();
        let deferred_mail = app.deferred_mail();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp {
            base_url,
            metrics_url,
            mailbox,
            store,
            config,
            clock,
            housekeeping,
            deferred_mail,
            stop: Some(stop),
            server: Some(server),
            _tmp: tmp,
            _db: db,
        }
    }

    /// Returns once at most `left` of the link mails the app answered for are still on their
    /// way to the outbox (each ends once its mail is queued and its first delivery attempt is
    /// over, or once it found no recipient): after it, "no e-mail was queued" is a fact, not a
    /// guess after a pause.
    pub async fn mail_queued_but(&self, left: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while self.deferred_mail.len() > left {
            assert!(
                std::time::Instant::now() < deadline,
                "link mails still queueing after 15 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn mail_queued(&self) {
        self.mail_queued_but(0).await;
    }

    /// Returns once the outbox is empty: every queued mail reached the mailbox.
    pub async fn mail_delivered(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.store.count_mail().await.unwrap() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "mail still in the outbox after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the app as SIGTERM stops the server: no new connections, in-flight requests
    /// finish, the background workers stop; returns once all of it has. The database and the
    /// mail folder stay, so another instance can take over.
    pub async fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task panicked")
                .expect("the server failed");
        }
    }

    /// A browser: its own cookie jar.
    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    /// E-mails sent to `to`, oldest first (their plain-text parts).
    pub fn emails_to(&self, to: &str) -> Vec<String> {
        self.mailbox.to(to).into_iter().map(|m| m.text).collect()
    }

    /// How many `root_field` subscriptions listen on this app, as its `/metrics` say
    /// (`graphql_subscriptions_active`).
    pub async fn subscriptions_active(&self, root_field: &str) -> usize {
        let text = reqwest::get(&self.metrics_url)
            .await
            .expect("/metrics")
            .text()
            .await
            .expect("/metrics text");
        let series = format!("graphql_subscriptions_active{{root_field=\"{root_field}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |value| {
                value.trim().parse::<f64>().expect("a gauge value") as usize
            })
    }

    /// Waits (up to 10 s) until exactly `count` `root_field` subscriptions listen on this app.
    /// Once a subscription counts, whatever happens after reaches it: the server says so, so no
    /// test guesses how long registering takes.
    pub async fn wait_for_subscriptions(&self, root_field: &str, count: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let active = self.subscriptions_active(root_field).await;
            if active == count {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{active} {root_field} subscriptions listen, not {count}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits (up to 5 s) until at least `count` e-mails to `to` were written, and returns them
    /// all: requests that mail on request answer before the mail is sent.
    pub async fn wait_for_emails(&self, to: &str, count: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mails = self.emails_to(to);
            if mails.len() >= count || std::time::Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The verification link of the newest e-mail to `to`.
    pub fn verification_link(&self, to: &str) -> Link {
        let mail = self
            .emails_to(to)
            .pop()
            .unwrap_or_else(|| panic!("no e-mail to {to}"));
        Link::find_in(&mail).unwrap_or_else(|| panic!("no link in e-mail:\n{mail}"))
    }

    /// The password-reset link of the newest reset e-mail to `to`. Reset links are mailed in the
    /// background after the answer, so this waits (up to 5 s) for one to arrive.
    pub async fn reset_link(&self, to: &str) -> Link {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mail = loop {
            let newest = self
                .emails_to(to)
                .into_iter()
                .rev()
                .find(|m| m.contains("/reset-password?"));
            match newest {
                Some(mail) => break mail,
                None if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                None => panic!("no reset e-mail to {to}"),
            }
        };
        Link::find_in(&mail.replace("/reset-password?", "/verify-email?"))
            .unwrap_or_else(|| panic!("no link in e-mail:\n{mail}"))
    }

    /// Signs up and verifies through the e-mail link; returns the logged-in browser.
    pub async fn new_user(&self, username: &str) -> (Client, String) {
        let client = self.client();
        let email = format!("{username}@example.com");
        let r = client.sign_up(username, &email, PASSWORD).await;
        assert!(r.errors().is_none(), "signUp failed: {r:?}");
        let link = self.verification_link(&email);
        let r = client.verify_email(&link.uid, &link.token).await;
        assert!(r.errors().is_none(), "verifyEmail failed: {r:?}");
        (client, email)
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

/// A port nothing listens on right now, for a server the test starts (or keeps down) itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn generous_rate_limits() -> quiz_llm::ratelimit::RateLimits {
    quiz_llm::ratelimit::RateLimits::uniform("10000/1m".parse().unwrap())
}

#[derive(Debug, Clone)]
pub struct Link {
    pub url: String,
    pub uid: String,
    pub token: String,
}

impl Link {
    pub fn find_in(text: &str) -> Option<Link> {
        let url = text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("/verify-email?"))?
            .to_owned();
        let query = url.split_once('?')?.1;
        let get = |key: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .map(str::to_owned)
        };
        Some(Link {
            uid: get("uid")?,
            token: get("token")?,
            url,
        })
    }
}

/// The claims of a JWT, read without checking it.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

/// A GraphQL response with its HTTP status and headers.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Gql {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    pub fn errors(&self) -> Option<&Vec<Value>> {
        self.body["errors"].as_array().filter(|e| !e.is_empty())
    }
    /// The first error's `extensions.code`; panics with the body when there is none.
    pub fn code(&self) -> &str {
        self.errors()
            .and_then(|e| e[0]["extensions"]["code"].as_str())
            .unwrap_or_else(|| panic!("expected an error code, got {}", self.body))
    }
    pub fn message(&self) -> &str {
        self.errors()
            .and_then(|e| e[0]["message"].as_str())
            .unwrap_or_default()
    }
    pub fn field(&self) -> Option<&str> {
        self.errors()?[0]["extensions"]["field"].as_str()
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
    /// Panics with the body unless the request succeeded.
    pub fn ok(self) -> Self {
        assert!(self.errors().is_none(), "unexpected errors: {}", self.body);
        self
    }
}

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base_url: String,
    pub bearer: Option<String>,
    /// The `Origin` a page's script sends with its POSTs; `None` for a native client.
    pub origin: Option<String>,
    /// The `Accept-Language` every request sends; `None` sends none.
    pub accept_language: Option<String>,
}

impl Client {
    /// The same browser, talking to another server process (cookies are per host, not port).
    pub fn on(&self, app: &TestApp) -> Client {
        Client {
            base_url: app.base_url.clone(),
            ..self.clone()
        }
    }

    pub fn new(base_url: &str) -> Self {
        quiz_llm::install_crypto_provider();
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .user_agent("quiz-llm-tests/1.0")
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base_url: base_url.to_owned(),
            bearer: None,
            origin: None,
            accept_language: None,
        }
    }

    /// The same browser, asking for `languages` (an `Accept-Language` value) from now on.
    pub fn speaking(&self, languages: &str) -> Self {
        Client {
            accept_language: Some(languages.to_owned()),
            ..self.clone()
        }
    }

    /// The same cookie jar, as a page of `origin` uses it: every POST carries `Origin`, as a
    /// browser's always does.
    pub fn in_page(&self, origin: &str) -> Self {
        Client {
            origin: Some(origin.to_owned()),
            ..self.clone()
        }
    }

    /// The same browser, but sending `Authorization: Bearer` too.
    pub fn with_bearer(&self, token: &str) -> Self {
        Client {
            bearer: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub async fn gql(&self, query: &str, variables: Value) -> Gql {
        self.gql_within(None, query, variables).await
    }

    /// Like [`gql`](Self::gql), waiting up to `timeout` instead of the client's 30 s (a real
    /// model on a shared CPU takes minutes).
    pub async fn gql_within(
        &self,
        timeout: Option<Duration>,
        query: &str,
        variables: Value,
    ) -> Gql {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(timeout) = timeout {
            req = req.timeout(timeout);
        }
        if let Some(token) = &self.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(origin) = &self.origin {
            req = req.header("origin", origin);
        }
        if let Some(languages) = &self.accept_language {
            req = req.header("accept-language", languages);
        }
        let resp = req.send().await.expect("request failed");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("not JSON (status {status}): {text}"));
        Gql {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base_url));
        if let Some(languages) = &self.accept_language {
            req = req.header("accept-language", languages);
        }
        req.send().await.expect("request failed")
    }

    pub async fn sign_up(&self, username: &str, email: &str, password: &str) -> Gql {
        self.gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { user { id username email isActive createdAt } message } }",
            json!({ "i": { "username": username, "email": email, "password": password } }),
        )
        .await
    }

    pub async fn verify_email(&self, uid: &str, token: &str) -> Gql {
        self.gql(
            "mutation($u: String!, $t: String!) { verifyEmail(uid: $u, token: $t) { user { username isActive } accessToken accessTokenExpiresAt message } }",
            json!({ "u": uid, "t": token }),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Gql {
        self.gql(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { user { id username } accessToken accessTokenExpiresAt message } }",
            json!({ "u": username, "p": password }),
        )
        .await
    }

    pub async fn me(&self) -> Gql {
        self.gql("{ me { id username email isActive } }", json!({}))
            .await
    }

    pub async fn refresh(&self) -> Gql {
        self.gql(
            "mutation { refreshToken { accessToken accessTokenExpiresAt } }",
            json!({}),
        )
        .await
    }

    pub async fn logout(&self) -> Gql {
        self.gql("mutation { logout { message } }", json!({})).await
    }

    pub async fn sessions(&self) -> Gql {
        self.gql(
            "{ sessions { id createdAt lastRefreshedAt expiresAt userAgent current } }",
            json!({}),
        )
        .await
    }
}

/// Generates one `#[tokio::test]` per store for an `async fn(Backend)`: `sqlite::…` (in memory),
/// `sqlite_file::…` (a file behind the production pool) and `mongodb::…`. `scripts/test.sh`
/// checks that the three modules ran the same tests.
#[macro_export]
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        $crate::on_every_store!(@store sqlite Sqlite $($name)*);
        $crate::on_every_store!(@store sqlite_file SqliteFile $($name)*);
        $crate::on_every_store!(@store mongodb Mongo $($name)*);
    };
    (@store $module:ident $backend:ident $($name:ident)*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::$backend).await
                }
            )*
        }
    };
}

pub const APOLLO_11: &str = include_str!("../../fixtures/apollo11.txt");
pub const KOREAN_TEXT: &str = include_str!("../../fixtures/korean.txt");

pub const QUIZ_FIELDS: &str = "id title description topic difficulty source language questionCount createdAt \
    questions { number content answerType choices { number content } }";
pub const RESULT_FIELDS: &str = "id quizId quizTitle correctCount totalQuestions score submittedAt \
    details { questionNumber question selectedChoice selectedContent correctChoice correctContent isCorrect explanation }";

impl Client {
    pub async fn generate_quiz(&self, input: Value) -> Gql {
        self.gql(
            &format!(
                "mutation($i: GenerateQuizInput!) {{ generateQuiz(input: $i) {{ {QUIZ_FIELDS} }} }}"
            ),
            json!({ "i": input }),
        )
        .await
    }

    /// `answers`: (question number, choice number) pairs.
    pub async fn submit(&self, quiz_id: &str, answers: &[(i64, i64)]) -> Gql {
        let answers: Vec<Value> = answers
            .iter()
            .map(|(q, c)| json!({ "questionNumber": q, "choiceNumber": c }))
            .collect();
        self.gql(
            &format!("mutation($q: ID!, $a: [AnswerInput!]!) {{ submitQuizAnswers(quizId: $q, answers: $a) {{ {RESULT_FIELDS} }} }}"),
            json!({ "q": quiz_id, "a": answers }),
        )
        .await
    }
}

/// The access token a `login`, `refreshToken`, … answer (`field`) carries.
pub fn token_of(r: &Gql, field: &str) -> String {
    r.data()[field]["accessToken"].as_str().unwrap().to_owned()
}

/// Two server processes sharing one store: a SQLite file, or one MongoDB database.
pub async fn two_processes(backend: Backend) -> Option<(TestApp, TestApp, tempfile::TempDir)> {
    two_processes_with(backend, |_| {}).await
}

/// [`two_processes`], both configured by `tweak`.
pub async fn two_processes_with(
    backend: Backend,
    tweak: impl Fn(&mut Settings),
) -> Option<(TestApp, TestApp, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let file = DatabaseUrl::Sqlite(Some(dir.path().join("shared.db")));
    let first = TestApp::spawn(backend, |c| {
        if backend == Backend::Sqlite {
            c.store.database_url = file;
        }
        tweak(c);
    })
    .await?;
    let shared = first.config.store.database_url.clone();
    let second = TestApp::spawn(backend, |c| {
        c.store.database_url = shared;
        tweak(c);
    })
    .await?;
    Some((first, second, dir))
}

/// The `retryAfter` seconds of a `RATE_LIMITED` refusal.
pub fn retry_after(r: &Gql) -> u64 {
    assert_eq!(r.code(), "RATE_LIMITED", "{}", r.body);
    r.errors().unwrap()[0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter in seconds")
}
