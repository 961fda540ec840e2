//! Many stateless server processes on one store, behind a real load balancer: three
//! `quiz-llm serve` processes and HAProxy with `deploy/haproxy.cfg` (see `common::nodes`),
//! addressed both directly and through the balancer. Each test runs on the SQLite file shared
//! by the processes (WAL mode) and on MongoDB.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use quiz_llm::{
    domain::{SessionId, UserId},
    store::StoreFixtures,
};
use serde_json::json;

use crate::common::{
    Backend, Client, PASSWORD, claims_of,
    nodes::{
        CHECK_INTERVAL, Cluster, ClusterOptions, DRAIN, HAPROXY_CFG, LB_BIND, LB_CHECK_INTERVAL,
        LB_NODE, LB_STATS_BIND, Load, Outcome,
    },
};

/// One `#[tokio::test]` per shared store for an `async fn(Backend)`: `on_sqlite_file::…` and
/// `on_mongodb::…` (named apart from the single-process store modules, which
/// `scripts/test.sh` compares with each other).
macro_rules! on_shared_stores {
    ($($name:ident),* $(,)?) => {
        on_shared_stores!(@store on_sqlite_file SqliteFile $($name)*);
        on_shared_stores!(@store on_mongodb Mongo $($name)*);
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

on_shared_stores!(
    a_session_moves_across_nodes_and_ends_everywhere,
    refreshes_racing_on_two_nodes_rotate_once,
    three_outbox_workers_deliver_each_email_once,
    a_killed_node_loses_no_session_and_is_routed_around,
    a_rolling_restart_under_load_fails_no_request,
    a_spoofed_forwarded_for_does_not_hide_the_client_behind_the_balancer,
);

const REFRESH: &str = "mutation { refreshToken { accessToken } }";

/// The access token a login or refresh answered with.
fn access_token(r: &crate::common::Gql, field: &str) -> String {
    r.data()[field]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {}", r.body))
        .to_owned()
}

/// A browser that sends only this bearer token (no cookies) to `base_url`.
fn bearer(base_url: &str, token: &str) -> Client {
    Client::new(base_url).with_bearer(token)
}

/// How long another node may trust its last look at a session: SESSION_CACHE_TTL's default.
const SESSION_CACHE_TTL: Duration = Duration::from_secs(1);

/// Polls `me` with `token` on `base_url` until it answers SESSION_EXPIRED; returns how long
/// after `ended` (when the session's ending was answered) that was. A node's cached look at the
/// session was taken before the ending, so no request sent SESSION_CACHE_TTL after it may pass.
async fn until_session_expired(base_url: &str, token: &str, ended: Instant) -> Duration {
    let browser = bearer(base_url, token);
    loop {
        let sent = ended.elapsed();
        let r = browser.me().await;
        if r.errors().is_some() && r.code() == "SESSION_EXPIRED" {
            return sent;
        }
        assert!(
            sent < SESSION_CACHE_TTL,
            "{base_url} accepted an ended session's token {sent:?} after it ended: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_session_moves_across_nodes_and_ends_everywhere(backend: Backend) {
    let Some(cluster) = Cluster::start(backend, ClusterOptions::default()).await else {
        return;
    };
    let [a, b, c] = [0, 1, 2].map(|i| cluster.nodes[i].url.clone());
    // Signed up and confirmed through the balancer; the session this test follows is made by
    // logging in on A.
    let browser = cluster.new_user("roamer", &cluster.balancer).await;
    let login = browser.at(&a).login("roamer", PASSWORD).await.ok();
    let made = access_token(&login, "login");
    let session = claims_of(&made)["sid"].as_str().unwrap().to_owned();

    let refreshed = browser.at(&b).refresh().await.ok();
    let current = access_token(&refreshed, "refreshToken");
    assert_eq!(claims_of(&current)["sid"], session.as_str());
    assert_eq!(
        claims_of(&current)["gen"],
        claims_of(&made)["gen"].as_i64().unwrap() + 1
    );
    for url in [&a, &b, &c, &cluster.balancer] {
        let me = browser.at(url).me().await.ok();
        assert_eq!(me.data()["me"]["username"], "roamer", "through {url}");
    }
    let sessions = browser.at(&c).sessions().await.ok();
    let listed = sessions.data()["sessions"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|s| s["id"] == session.as_str() && s["current"] == true),
        "C lists the session made on A as the current one: {listed:?}"
    );

    browser.at(&c).logout().await.ok();
    let ended = Instant::now();

    // Ended for good: refreshing reads the store, on every node and through the balancer.
    for url in [&a, &b, &c, &cluster.balancer] {
        let r = bearer(url, &current).refresh().await;
        assert_eq!(r.code(), "SESSION_EXPIRED", "refresh through {url}");
    }
    // C ended it, so C refuses its token at once; A and B within their session cache's TTL.
    let on_c = bearer(&c, &current).me().await;
    assert_eq!(on_c.code(), "SESSION_EXPIRED");
    for url in [&a, &b] {
        let took = until_session_expired(url, &current, ended).await;
        eprintln!("{url} refused the ended session after {took:?}");
    }

    // A client at a trusted address (here the balancer's own) is a proxy: the address it
    // forwards is believed.
    let forwarded = browser
        .http
        .post(format!("{}/graphql", cluster.balancer))
        .header("X-Forwarded-For", "198.51.100.7")
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { user { id } } }",
            "variables": { "u": "roamer", "p": PASSWORD },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 200);
    assert_eq!(
        cluster.log_lines_with(&[
            r#""event":"login_succeeded""#,
            r#""client_ip":"198.51.100.7""#
        ]),
        1,
        "one node logged the login with the address the balancer forwarded"
    );
}

/// A client that is no proxy writes its own `X-Forwarded-For`; the balancer adds the real
/// address as a further header line. The nodes must count and log the real one.
async fn a_spoofed_forwarded_for_does_not_hide_the_client_behind_the_balancer(backend: Backend) {
    const ATTEMPTS: usize = 8;
    let options = ClusterOptions {
        env: vec![("RATE_LIMIT_GUEST_PER_CLIENT", "3/1h")],
        ..Default::default()
    };
    let Some(cluster) = Cluster::start(backend, options).await else {
        return;
    };
    // Not in TRUSTED_PROXIES (127.0.0.1, the balancer).
    let from = |address: &str| {
        reqwest::Client::builder()
            .local_address(address.parse::<std::net::IpAddr>().unwrap())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let start_guest = |http: reqwest::Client, spoofed: Option<String>| {
        let url = format!("{}/graphql", cluster.balancer);
        async move {
            let mut request = http
                .post(url)
                .json(&json!({ "query": "mutation { startGuestSession { user { id } } }" }));
            if let Some(spoofed) = spoofed {
                request = request.header("X-Forwarded-For", spoofed);
            }
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .map(str::to_owned)
        }
    };
    let attacker = from("127.0.0.2");
    let mut refused = Vec::new();
    for i in 0..ATTEMPTS {
        let spoofed = format!("198.51.100.{}, 10.0.0.{}", i + 1, i + 1);
        refused.push(start_guest(attacker.clone(), Some(spoofed)).await);
    }
    let codes: Vec<Option<&str>> = refused.iter().map(Option::as_deref).collect();
    assert_eq!(
        codes,
        [None, None, None]
            .into_iter()
            .chain([Some("RATE_LIMITED"); ATTEMPTS - 3])
            .collect::<Vec<_>>(),
        "three guests from 127.0.0.2, whatever it claims to forward"
    );
    assert_eq!(
        cluster.log_lines_with(&[r#""event":"guest_started""#, r#""client_ip":"127.0.0.2""#]),
        3,
        "the guests are logged at the client's real address"
    );
    assert_eq!(
        cluster.log_lines_with(&[r#""client_ip":"198.51.100."#])
            + cluster.log_lines_with(&[r#""client_ip":"10.0.0."#]),
        0,
        "no spoofed address is logged"
    );
    // The limit is the client's own: another address still gets its guests.
    assert_eq!(start_guest(from("127.0.0.3"), None).await, None);
}

async fn refreshes_racing_on_two_nodes_rotate_once(backend: Backend) {
    const ROUNDS: i64 = 6;
    let Some(cluster) = Cluster::start(backend, ClusterOptions::default()).await else {
        return;
    };
    let [a, b, c] = [0, 1, 2].map(|i| cluster.nodes[i].url.clone());
    let browser = cluster.new_user("racer", &cluster.balancer).await;
    let login = browser.login("racer", PASSWORD).await.ok();
    let mut token = access_token(&login, "login");
    let first = claims_of(&token);
    let session = SessionId::parse(first["sid"].as_str().unwrap()).unwrap();
    let user = UserId::parse(first["sub"].as_str().unwrap()).unwrap();
    let first_gen = first["gen"].as_i64().unwrap();
    let refreshed_before = cluster.log_lines_with(&[r#""event":"refreshed""#]);

    // Both nodes get the same token at the same instant, round after round.
    let mut tokens = vec![token.clone()];
    for round in 1..=ROUNDS {
        let (on_a, on_b) = (bearer(&a, &token), bearer(&b, &token));
        let (ra, rb) = tokio::join!(on_a.gql(REFRESH, json!({})), on_b.gql(REFRESH, json!({})));
        let (ta, tb) = (
            access_token(&ra.ok(), "refreshToken"),
            access_token(&rb.ok(), "refreshToken"),
        );
        // One rotation: the loser of the compare-and-swap shares the winner's generation (two
        // tabs refreshing together), it does not rotate again.
        for t in [&ta, &tb] {
            assert_eq!(claims_of(t)["gen"], first_gen + round, "round {round}");
            assert_eq!(claims_of(t)["sid"], session.as_str());
        }
        token = ta;
        tokens.push(token.clone());
    }
    let stored = cluster
        .store
        .find_session(&user, &session)
        .await
        .unwrap()
        .expect("the session is stored");
    assert_eq!(
        stored.generation,
        first_gen + ROUNDS,
        "one rotation per round"
    );
    // Each rotation is audited once, by whichever node won it.
    let refreshed = cluster.log_lines_with(&[r#""event":"refreshed""#]) - refreshed_before;
    assert_eq!(refreshed as i64, ROUNDS, "rotations logged by the nodes");

    // A token two generations old is a stolen copy, whichever node sees it, even two at once:
    // the session is revoked for everyone.
    let stale = &tokens[tokens.len() - 3];
    let (on_a, on_c) = (bearer(&a, stale), bearer(&c, stale));
    let (ra, rc) = tokio::join!(on_a.gql(REFRESH, json!({})), on_c.gql(REFRESH, json!({})));
    assert_eq!(ra.code(), "SESSION_EXPIRED");
    assert_eq!(rc.code(), "SESSION_EXPIRED");
    assert!(cluster.log_lines_with(&[r#""event":"refresh_token_reuse_detected""#]) >= 1);
    for url in [&a, &b, &c, &cluster.balancer] {
        let r = bearer(url, &token).refresh().await;
        assert_eq!(
            r.code(),
            "SESSION_EXPIRED",
            "the newest token through {url}"
        );
    }
    assert!(
        cluster
            .store
            .find_session(&user, &session)
            .await
            .unwrap()
            .is_none(),
        "the session is gone from the store"
    );
}

async fn three_outbox_workers_deliver_each_email_once(backend: Backend) {
    const SIGN_UPS: usize = 20;
    let options = ClusterOptions {
        smtp_down: true,
        ..Default::default()
    };
    let Some(cluster) = Cluster::start(backend, options).await else {
        return;
    };
    // The mail server is down: every e-mail waits in the outbox, due for all three workers.
    let mut addresses = HashSet::new();
    for i in 0..SIGN_UPS {
        let node = &cluster.nodes[i % 3];
        let email = format!("member{i}@example.com");
        Client::new(&node.url)
            .sign_up(&format!("member{i}"), &email, PASSWORD)
            .await
            .ok();
        addresses.insert(email);
    }
    assert_eq!(cluster.store.count_mail().await.unwrap(), SIGN_UPS as u64);

    // Each message takes the mail server a while, so that no worker gets through the outbox
    // before the others wake (every 200 ms): all three must share the work.
    cluster.start_smtp_taking(Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.store.count_mail().await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "the outbox still holds mail after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A second delivery would come from a worker that claimed a mail it should not have; the
    // workers poll every 200 ms, so give them a few rounds.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = cluster.mails();
    let received: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
    let distinct: HashSet<String> = received.iter().map(|to| to.to_string()).collect();
    assert_eq!(
        received.len(),
        SIGN_UPS,
        "each e-mail once; received {received:?}"
    );
    assert_eq!(distinct, addresses);
    let mut senders: Vec<&str> = mails.iter().map(|m| m.from.as_str()).collect();
    senders.sort();
    senders.dedup();
    assert_eq!(senders.len(), 3, "every worker delivered: {senders:?}");
}

async fn a_killed_node_loses_no_session_and_is_routed_around(backend: Backend) {
    let Some(mut cluster) = Cluster::start(backend, ClusterOptions::default()).await else {
        return;
    };
    // Sessions made through the balancer, so they were made on all the nodes.
    let mut browsers = Vec::new();
    for i in 0..4 {
        browsers.push(
            cluster
                .new_user(&format!("steady{i}"), &cluster.balancer)
                .await,
        );
    }
    let load = Load::start(&browsers);
    tokio::time::sleep(Duration::from_millis(500)).await;

    cluster.nodes[1].kill().await;
    let killed = Instant::now();
    cluster.wait_in_rotation(1, false).await;
    let noticed = killed.elapsed();
    // Traffic goes on with two nodes for a while.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let outcomes = load.stop().await;

    let (before, after): (Vec<&Outcome>, Vec<&Outcome>) =
        outcomes.iter().partition(|o| o.started < killed);
    let failed_after: Vec<&String> = after.iter().filter_map(|o| o.error.as_ref()).collect();
    let failed_before = before.iter().filter(|o| o.error.is_some()).count();
    eprintln!(
        "{} requests before the kill ({failed_before} failed, in flight on the killed node), {} \
         after; the balancer took the node out after {noticed:?}",
        before.len(),
        after.len()
    );
    assert!(after.len() >= 20, "too little traffic after the kill");
    assert!(
        failed_after.is_empty(),
        "{} of {} requests after the kill failed, e.g. {:?}",
        failed_after.len(),
        after.len(),
        failed_after.first()
    );
    // Every session made before the kill still works, on every node left and through the
    // balancer.
    for browser in &browsers {
        browser.refresh().await.ok();
        for node in [0, 2] {
            browser.at(&cluster.nodes[node].url).me().await.ok();
        }
    }
}

async fn a_rolling_restart_under_load_fails_no_request(backend: Backend) {
    let Some(mut cluster) = Cluster::start(backend, ClusterOptions::default()).await else {
        return;
    };
    let mut browsers = Vec::new();
    for i in 0..4 {
        browsers.push(
            cluster
                .new_user(&format!("rolling{i}"), &cluster.balancer)
                .await,
        );
    }
    let load = Load::start(&browsers);
    let started = Instant::now();
    for i in 0..3 {
        // SIGTERM: the node answers /readyz with 503 while it keeps serving, the balancer
        // takes it out, then it stops accepting and exits.
        let status = cluster.nodes[i].terminate().await;
        assert!(
            status.success(),
            "{} exited with {status}",
            cluster.nodes[i].name
        );
        cluster.nodes[i].start().await;
        cluster.wait_in_rotation(i, true).await;
    }
    let outcomes = load.stop().await;
    let failed: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    eprintln!(
        "rolling restart took {:?}; {} requests through the balancer meanwhile",
        started.elapsed(),
        outcomes.len()
    );
    assert!(
        outcomes.len() >= 100,
        "too little traffic during the restart"
    );
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failed.len(),
        outcomes.len(),
        failed.first()
    );
    for browser in &browsers {
        browser.refresh().await.ok();
    }
}

/// docker-compose.yml runs the balancer configuration these tests run, in the shape they run
/// it: one server line per replica (defaulting to that replica's container), the balancer's
/// fixed address trusted, and a drain that outlasts the health checks.
#[test]
fn compose_runs_the_tested_balancer_configuration() {
    use yaml_rust2::YamlLoader;
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let compose = YamlLoader::load_from_str(&read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docker-compose.yml"
    )))
    .expect("docker-compose.yml is YAML")
    .remove(0);
    let cfg = read(HAPROXY_CFG);
    let project = compose["name"].as_str().expect("a fixed project name");
    let (server, balancer) = (
        &compose["services"]["server"],
        &compose["services"]["balancer"],
    );
    let env = &server["environment"];

    let mounted = balancer["volumes"]
        .as_vec()
        .expect("the balancer mounts its configuration")
        .iter()
        .filter_map(|v| v.as_str())
        .any(|v| v.starts_with("./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg"));
    assert!(mounted, "the balancer runs deploy/haproxy.cfg");
    let published = balancer["ports"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str());
    assert!(published.clone().any(|p| p == "8000:8000"));
    assert!(cfg.contains(&format!("bind \"${{{LB_BIND}-:8000}}\"")));

    let replicas = server["deploy"]["replicas"].as_i64().expect("replicas");
    let servers: Vec<&str> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .collect();
    assert_eq!(
        servers.len() as i64,
        replicas,
        "one server line per replica"
    );
    for (i, line) in servers.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            *line,
            format!("server node{n} \"${{{LB_NODE}{n}-{project}-server-{n}:8000}}\"")
        );
    }
    for var in [LB_STATS_BIND, LB_CHECK_INTERVAL] {
        assert!(cfg.contains(&format!("\"${{{var}-")), "{var} is read");
    }

    assert_eq!(
        env["TRUSTED_PROXIES"].as_str(),
        balancer["networks"]["default"]["ipv4_address"].as_str(),
        "the servers trust the balancer's address"
    );
    let duration = |s: &str| humantime::parse_duration(s).unwrap();
    let interval = cfg
        .split(&format!("${{{LB_CHECK_INTERVAL}-"))
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .map(duration)
        .expect("a default check interval");
    let drain = duration(env["SHUTDOWN_DRAIN"].as_str().expect("SHUTDOWN_DRAIN"));
    // Two failed checks take a server out; the drain must last well beyond that, here too.
    assert!(
        drain >= 4 * interval,
        "drain {drain:?}, checks every {interval:?}"
    );
    assert!(DRAIN >= 4 * CHECK_INTERVAL);
    // Docker sends SIGKILL after this: the drain and in-flight requests (20 s) fit.
    let stop_grace = duration(
        server["stop_grace_period"]
            .as_str()
            .expect("stop_grace_period"),
    );
    assert!(stop_grace >= drain + Duration::from_secs(20));
}
