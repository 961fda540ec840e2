//! Live quiz generation as stored jobs: the lifecycle on every store, with the offline generator
//! and with a fake LLM that streams slowly, breaks off, stalls or replies with bad JSON; cancel,
//! ownership and the per-user limit; a restart mid-job and a worker that died; events across
//! server processes.
//! The subscriptions that carry them, and their transports, are in `subscriptions`.

mod subscriptions;

use crate::common;

use std::{sync::Arc, time::Duration};

use common::{
    APOLLO_11, Backend, Client, Gql, PASSWORD, TestApp,
    fake_llm::{FakeLlm, Reply, start_fake},
    ws::{self, Socket, Upgrade},
};
use quiz_llm::domain::{JobId, JobStatus, UserId};
use serde_json::{Value, json};

pub const JOB_FIELDS: &str = "id status progress questionsReady questionCount \
    quiz { id title questionCount } error { code message } createdAt updatedAt";

pub async fn start(c: &Client, input: Value) -> Gql {
    c.gql(
        &format!("mutation($i: GenerateQuizInput!) {{ startQuizGeneration(input: $i) {{ {JOB_FIELDS} }} }}"),
        json!({ "i": input }),
    )
    .await
}

/// The id of a job `start` queued (which must succeed).
pub async fn started(c: &Client, input: Value) -> String {
    let r = start(c, input).await.ok();
    r.data()["startQuizGeneration"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn job(c: &Client, id: &str) -> Value {
    c.gql(
        &format!("query($id: ID!) {{ quizGenerationJob(id: $id) {{ {JOB_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await
    .ok()
    .data()["quizGenerationJob"]
        .clone()
}

async fn cancel(c: &Client, id: &str) -> Gql {
    c.gql(
        &format!("mutation($id: ID!) {{ cancelQuizGeneration(id: $id) {{ {JOB_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await
}

/// A fresh access token for `username`'s browser `c` (a new session of that browser).
pub async fn token_of(c: &Client, username: &str) -> String {
    let r = c.login(username, PASSWORD).await.ok();
    r.data()["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A logged-in socket with `connection_init` acknowledged.
pub async fn socket(app: &TestApp, token: &str) -> Socket {
    let mut s = ws::connect(
        &app.base_url,
        Upgrade {
            access_cookie: Some(token),
            ..Default::default()
        },
    )
    .await
    .expect("upgrade");
    let ack = s.init(json!({})).await.expect("init");
    assert_eq!(ack["type"], "connection_ack");
    s
}

/// Every state `quizGeneration` sends until it completes.
pub async fn watch(s: &mut Socket, id: &str) -> Vec<Value> {
    s.subscribe(
        "watch",
        &format!("subscription($id: ID!) {{ quizGeneration(jobId: $id) {{ {JOB_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await;
    let mut states = Vec::new();
    while let Some(payload) = s.next_payload("watch").await {
        assert!(payload["errors"].is_null(), "{payload}");
        states.push(payload["data"]["quizGeneration"].clone());
    }
    states
}

/// Waits (up to 20 s) until the job satisfies `done`, reading it over HTTP.
pub async fn wait_for(c: &Client, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let j = job(c, id).await;
        if done(&j) {
            return j;
        }
        assert!(std::time::Instant::now() < deadline, "job stuck at {j}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_progress_never_goes_back(states: &[Value]) {
    for pair in states.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            b["progress"].as_f64() >= a["progress"].as_f64()
                && b["questionsReady"].as_i64() >= a["questionsReady"].as_i64(),
            "went back: {a} then {b}"
        );
    }
}

fn question(n: usize) -> Value {
    json!({
        "content": format!("Which crew member is number {n}?"),
        "answer_type": "multiple_choice",
        "choices": [
            { "content": "Armstrong", "is_correct": n.is_multiple_of(3) },
            { "content": "Aldrin", "is_correct": n % 3 == 1 },
            { "content": "Collins", "is_correct": n % 3 == 2 },
        ],
        "explanation": "The text names the crew.",
        "quote": "The crew consisted of Neil A. Armstrong, Buzz Aldrin, and Michael Collins.",
    })
}

fn llm_quiz(count: usize) -> String {
    json!({
        "title": "Apollo 11",
        "description": "The crew.",
        "questions": (0..count).map(question).collect::<Vec<_>>(),
    })
    .to_string()
}

fn llm_input(count: usize) -> Value {
    json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": count, "choiceCount": 3 })
}

async fn llm_app(
    backend: Backend,
    replies: Vec<Reply>,
    tweak: impl FnOnce(&mut quiz_llm::Settings),
) -> Option<(TestApp, Arc<FakeLlm>)> {
    let (fake, url) = start_fake(replies).await;
    let app = TestApp::spawn(backend, |c| {
        c.llm.llm_base_url = Some(url);
        c.llm.llm_timeout = Duration::from_secs(5);
        c.llm.llm_max_retries = 1;
        tweak(c);
    })
    .await?;
    Some((app, fake))
}

on_every_store!(
    an_offline_job_runs_to_success,
    progress_follows_the_streamed_reply,
    broken_stalled_or_unusable_streams_fail_the_job,
    a_stream_cut_off_at_the_token_limit_is_repaired,
    a_reply_with_more_questions_than_asked_never_counts_past_the_request,
    cancel_stops_the_llm_request,
    jobs_are_private_validated_and_limited,
    a_restarted_server_finishes_the_job,
    a_job_whose_worker_died_is_taken_over,
    events_reach_every_server_process,
);

async fn an_offline_job_runs_to_success(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("offline_job").await;
    let token = token_of(&c, "offline_job").await;
    let mut events = socket(&app, &token).await;
    events
        .subscribe(
            "events",
            "subscription { quizEvents { kind quizId resultId at } }",
            json!({}),
        )
        .await;
    // The subscription is registered once the socket has answered something after it.
    let r = start(
        &c,
        json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 3, "choiceCount": 3 }),
    )
    .await
    .ok();
    let started = &r.data()["startQuizGeneration"];
    assert_eq!(started["status"], "QUEUED");
    assert_eq!(started["progress"], 0.0);
    assert_eq!(started["questionCount"], 3);
    assert!(started["quiz"].is_null() && started["error"].is_null());
    let id = started["id"].as_str().unwrap();

    let mut watcher = socket(&app, &token).await;
    let states = watch(&mut watcher, id).await;
    assert_progress_never_goes_back(&states);
    let last = states.last().unwrap();
    assert_eq!(last["status"], "SUCCEEDED", "{states:?}");
    assert_eq!(
        (last["progress"].as_f64(), last["questionsReady"].as_i64()),
        (Some(1.0), Some(3))
    );
    let quiz_id = last["quiz"]["id"].as_str().unwrap();
    assert_eq!(last["quiz"]["questionCount"], 3);
    assert_eq!(job(&c, id).await["status"], "SUCCEEDED");

    let event = events.next_payload("events").await.unwrap();
    let event = &event["data"]["quizEvents"];
    assert_eq!(event["kind"], "QUIZ_CREATED");
    assert_eq!(event["quizId"], quiz_id);
    assert!(event["resultId"].is_null());
}

async fn progress_follows_the_streamed_reply(backend: Backend) {
    let content = llm_quiz(4);
    let slow = Reply::Slow {
        content,
        piece: 60,
        pause: Duration::from_millis(60),
    };
    let Some((app, fake)) = llm_app(backend, vec![slow], |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("streamed").await;
    let token = token_of(&c, "streamed").await;
    let id = started(&c, llm_input(4)).await;
    let mut s = socket(&app, &token).await;
    let states = watch(&mut s, &id).await;
    assert_progress_never_goes_back(&states);
    let running: Vec<i64> = states
        .iter()
        .filter(|s| s["status"] == "RUNNING")
        .map(|s| s["questionsReady"].as_i64().unwrap())
        .collect();
    assert!(
        running.iter().any(|&n| (1..4).contains(&n)),
        "progress arrives question by question: {states:?}"
    );
    assert!(
        states
            .iter()
            .all(|s| s["progress"].as_f64().unwrap() <= 1.0)
    );
    let last = states.last().unwrap();
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["quiz"]["title"], "Apollo 11");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["stream"], true);
    assert_eq!(
        requests[0]["response_format"]["json_schema"]["strict"],
        true
    );
}

async fn broken_stalled_or_unusable_streams_fail_the_job(backend: Backend) {
    let quiz = llm_quiz(2);
    let replies = vec![
        // Broken off, then stalled: the one retry is spent, the job fails.
        Reply::BreakAfter(quiz.clone(), 120),
        Reply::StallAfter(quiz.clone(), 120),
        // Not JSON, twice: the repair round is spent.
        Reply::Content("{ \"title\": \"unfinished".into()),
        Reply::Content("not json at all".into()),
    ];
    let Some((app, fake)) = llm_app(backend, replies, |c| {
        c.llm.llm_timeout = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let (c, _) = app.new_user("broken").await;
    for round in 0..2 {
        let id = started(&c, llm_input(2)).await;
        let failed = wait_for(&c, &id, |j| j["status"] == "FAILED").await;
        assert_eq!(failed["error"]["code"], "LLM_UNAVAILABLE", "round {round}");
        assert!(failed["quiz"].is_null());
        let message = failed["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("json") && !message.contains("http"),
            "{message}"
        );
    }
    assert_eq!(fake.requests().len(), 4);
    let quizzes = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(
        quizzes.data()["quizzes"]["totalCount"],
        0,
        "nothing half-made"
    );
}

async fn a_stream_cut_off_at_the_token_limit_is_repaired(backend: Backend) {
    let replies = vec![Reply::CutOff(llm_quiz(2)), Reply::Content(llm_quiz(2))];
    let Some((app, fake)) = llm_app(backend, replies, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("cutoff").await;
    let id = started(&c, llm_input(2)).await;
    let done = wait_for(&c, &id, |j| {
        j["status"] != "QUEUED" && j["status"] != "RUNNING"
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        2,
        "the cut-off stream was one failed attempt"
    );
    let repair = requests[1]["messages"].as_array().unwrap();
    assert!(repair.iter().all(|m| m["role"] != "assistant"));
    assert!(
        repair.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("cut off")
    );
}

async fn a_reply_with_more_questions_than_asked_never_counts_past_the_request(backend: Backend) {
    // Seen with a small real model: it wrote 5 questions for 2, and the job reported 5 ready.
    let replies = vec![Reply::Content(llm_quiz(5)), Reply::Content(llm_quiz(2))];
    let Some((app, fake)) = llm_app(backend, replies, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("toomany").await;
    let token = token_of(&c, "toomany").await;
    let id = started(&c, llm_input(2)).await;
    let mut s = socket(&app, &token).await;
    let states = watch(&mut s, &id).await;
    assert_progress_never_goes_back(&states);
    assert!(
        states
            .iter()
            .all(|s| s["questionsReady"].as_i64() <= Some(2)),
        "{states:?}"
    );
    let last = states.last().unwrap();
    assert_eq!(last["status"], "SUCCEEDED", "{states:?}");
    assert_eq!(
        (
            last["questionsReady"].as_i64(),
            last["questionCount"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(fake.requests().len(), 2, "the 5-question reply was refused");
}

async fn cancel_stops_the_llm_request(backend: Backend) {
    let release = Arc::new(tokio::sync::Notify::new());
    let held = Reply::Held(release.clone(), llm_quiz(3));
    let Some((app, fake)) = llm_app(backend, vec![held], |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("canceller").await;
    let id = started(&c, llm_input(3)).await;
    let running = wait_for(&c, &id, |j| j["questionsReady"].as_i64() >= Some(1)).await;
    assert_eq!(running["status"], "RUNNING");
    let cancelled = cancel(&c, &id).await.ok();
    let cancelled = &cancelled.data()["cancelQuizGeneration"];
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["questionsReady"], 1, "progress is kept");
    // The worker dropped the request: once the fake goes on writing, it finds nobody reading
    // (a request still being read would run to its end).
    release.notify_one();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fake.abandoned.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the LLM request was not stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(job(&c, &id).await["status"], "CANCELLED");
    let again = cancel(&c, &id).await.ok();
    assert_eq!(again.data()["cancelQuizGeneration"]["status"], "CANCELLED");
    let quizzes = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(quizzes.data()["quizzes"]["totalCount"], 0);
}

async fn jobs_are_private_validated_and_limited(backend: Backend) {
    let release = Arc::new(tokio::sync::Notify::new());
    let held = Reply::Held(release.clone(), llm_quiz(2));
    let Some((app, _fake)) = llm_app(backend, vec![held], |c| {
        c.generation.generation_max_active_per_user = 1;
    })
    .await
    else {
        return;
    };
    let (owner, _) = app.new_user("job_owner").await;
    let (other, _) = app.new_user("job_other").await;
    let id = started(&owner, llm_input(2)).await;

    // One active job per user here: the next is refused until it ends.
    let refused = start(&owner, llm_input(2)).await;
    assert_eq!(refused.code(), "RATE_LIMITED");
    assert!(refused.errors().unwrap()[0]["extensions"]["retryAfter"].as_u64() > Some(0));
    start(&other, llm_input(2)).await.ok();

    // Another user's job does not exist for them.
    assert!(job(&other, &id).await.is_null());
    assert_eq!(cancel(&other, &id).await.code(), "NOT_FOUND");
    assert_eq!(cancel(&other, "not-an-id").await.code(), "NOT_FOUND");
    let other_token = token_of(&other, "job_other").await;
    let mut s = socket(&app, &other_token).await;
    s.subscribe(
        "x",
        "subscription($id: ID!) { quizGeneration(jobId: $id) { id status } }",
        json!({ "id": id }),
    )
    .await;
    let denied = s.next_payload("x").await.unwrap();
    assert_eq!(
        denied["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{denied}"
    );
    assert!(
        job(&owner, &id).await["status"].is_string(),
        "the owner still sees it"
    );

    // Input is checked before anything is queued.
    let bad = start(&owner, json!({ "topic": "t", "questionCount": 50 })).await;
    assert_eq!(
        (bad.code(), bad.field()),
        ("BAD_USER_INPUT", Some("questionCount"))
    );
    let anonymous = app.client();
    assert_eq!(
        start(&anonymous, llm_input(2)).await.code(),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        anonymous
            .gql("{ quizGenerationJob(id: \"x\") { id } }", json!({}))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
    release.notify_one();
}

/// An app whose database another process can open: a SQLite file where the backend would
/// keep it in memory.
async fn stored_status(app: &TestApp, owner: &str, id: &str) -> JobStatus {
    let owner = UserId::parse(owner).unwrap();
    app.store
        .find_job(&owner, &JobId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn a_restarted_server_finishes_the_job(backend: Backend) {
    let (fake, url) = start_fake(vec![
        Reply::Held(Arc::new(tokio::sync::Notify::new()), llm_quiz(3)),
        Reply::Content(llm_quiz(3)),
    ])
    .await;
    let Some(mut first) =
        TestApp::spawn_shareable(backend, |c| c.llm.llm_base_url = Some(url)).await
    else {
        return;
    };
    let (c, _) = first.new_user("restarter").await;
    let me = c.me().await.ok().data()["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = started(&c, llm_input(3)).await;
    wait_for(&c, &id, |j| j["questionsReady"].as_i64() >= Some(1)).await;

    // A stopping server gives its job back to the queue.
    first.shutdown().await;
    assert_eq!(stored_status(&first, &me, &id).await, JobStatus::Queued);
    let second = first.spawn_sharing(|_| {}).await;
    let c2 = c.on(&second);
    let done = wait_for(&c2, &id, |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(done["quiz"]["questionCount"], 3);
    assert_eq!(done["questionsReady"], 3);
    assert_eq!(fake.requests().len(), 2);
    let quizzes = c2.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(quizzes.data()["quizzes"]["totalCount"], 1);
}

async fn a_job_whose_worker_died_is_taken_over(backend: Backend) {
    let (_fake, url) = start_fake(vec![
        Reply::Held(Arc::new(tokio::sync::Notify::new()), llm_quiz(2)),
        Reply::Content(llm_quiz(2)),
    ])
    .await;
    let Some(stuck) = TestApp::spawn_shareable(backend, |c| c.llm.llm_base_url = Some(url)).await
    else {
        return;
    };
    let (c, _) = stuck.new_user("orphan").await;
    let id = started(&c, llm_input(2)).await;
    wait_for(&c, &id, |j| j["status"] == "RUNNING").await;
    // The first process hangs on its LLM request as if it had died. Another process takes the
    // job over once its lease has run out (its clock moves past it; nobody sleeps).
    let rescuer = stuck.spawn_sharing(|_| {}).await;
    let c2 = c.on(&rescuer);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        job(&c2, &id).await["status"],
        "RUNNING",
        "the lease still holds"
    );
    rescuer
        .clock
        .advance(stuck.config.generation.generation_lease * 3);
    let done = wait_for(&c2, &id, |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(done["quiz"]["questionCount"], 2);
    // The first process's worker notices it lost the job and stores nothing.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let quizzes = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(quizzes.data()["quizzes"]["totalCount"], 1);
}

async fn events_reach_every_server_process(backend: Backend) {
    let Some(first) = TestApp::spawn_shareable(backend, |_| {}).await else {
        return;
    };
    let second = first.spawn_sharing(|_| {}).await;
    let (c, _) = first.new_user("two_devices").await;
    let token = token_of(&c, "two_devices").await;
    let mut s = socket(&second, &token).await;
    s.subscribe(
        "e",
        "subscription { quizEvents { kind quizId } }",
        json!({}),
    )
    .await;
    second.wait_for_subscriptions("quizEvents", 1).await;
    let quiz = c
        .generate_quiz(json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 2 }))
        .await
        .ok();
    let quiz_id = quiz.data()["generateQuiz"]["id"].as_str().unwrap();
    let event = s.next_payload("e").await.unwrap();
    assert_eq!(event["data"]["quizEvents"]["kind"], "QUIZ_CREATED");
    assert_eq!(event["data"]["quizEvents"]["quizId"], quiz_id);
}
