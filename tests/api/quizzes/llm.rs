//! The LLM path against a fake OpenAI-compatible server started by the test: request shape,
//! structured output, repair, retries, timeouts and feedback.

use crate::common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::{
    APOLLO_11, Backend, TestApp,
    fake_llm::{FakeLlm, Reply, start_fake},
};
use serde_json::{Value, json};

async fn app_with_llm(replies: Vec<Reply>, timeout: Duration) -> (TestApp, Arc<FakeLlm>) {
    app_with_llm_and(replies, timeout, |_| {}).await
}

async fn app_with_llm_and(
    replies: Vec<Reply>,
    timeout: Duration,
    tweak: impl FnOnce(&mut quiz_llm::Settings),
) -> (TestApp, Arc<FakeLlm>) {
    llm_app_on(Backend::Sqlite, replies, timeout, tweak)
        .await
        .unwrap()
}

/// An app on `backend` whose LLM is a fake server answering `replies`; `None` when the store
/// is not available here.
pub(super) async fn llm_app_on(
    backend: Backend,
    replies: Vec<Reply>,
    timeout: Duration,
    tweak: impl FnOnce(&mut quiz_llm::Settings),
) -> Option<(TestApp, Arc<FakeLlm>)> {
    let (fake, url) = start_fake(replies).await;
    let app = TestApp::spawn(backend, |c| {
        c.llm.llm_base_url = Some(url);
        c.llm.llm_api_key = Some(quiz_llm::config::SecretString::from("sk-test-key"));
        c.llm.llm_model = "test-model-1".into();
        c.llm.llm_timeout = timeout;
        tweak(c);
    })
    .await?;
    Some((app, fake))
}

/// A sentence of the study text, as the model quotes it.
pub(super) const CREW: &str =
    "The crew consisted of Neil A. Armstrong, Buzz Aldrin, and Michael Collins.";

pub(super) fn question(content: &str, choices: &[(&str, bool)]) -> Value {
    json!({
        "content": content,
        "answer_type": if choices.len() == 2 && choices[0].0 == "True" { "true_false" } else { "multiple_choice" },
        "choices": choices.iter().map(|(c, ok)| json!({ "content": c, "is_correct": ok })).collect::<Vec<_>>(),
        "explanation": format!("Because the text says so ({content})."),
        "quote": CREW,
    })
}

fn good_quiz() -> String {
    json!({
        "title": "Apollo 11",
        "description": "The first crewed Moon landing.",
        "questions": [
            question("Who commanded Apollo 11?", &[("Armstrong", true), ("Aldrin", false), ("Collins", false)]),
            question("Apollo 11 landed in 1969.", &[("True", true), ("False", false)]),
        ],
    })
    .to_string()
}

fn input() -> Value {
    json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 2, "choiceCount": 3, "difficulty": "HARD" })
}

#[tokio::test]
async fn the_request_carries_model_schema_and_study_text() {
    let (app, fake) =
        app_with_llm(vec![Reply::Content(good_quiz())], Duration::from_secs(10)).await;
    let (c, _) = app.new_user("pilot").await;
    let r = c.generate_quiz(input()).await.ok();
    let quiz = &r.data()["generateQuiz"];
    assert_eq!(quiz["source"], "LLM");
    assert_eq!(quiz["title"], "Apollo 11");
    assert_eq!(quiz["difficulty"], "HARD");
    assert_eq!(quiz["questions"][0]["answerType"], "MULTIPLE_CHOICE");
    assert_eq!(quiz["questions"][0]["choices"].as_array().unwrap().len(), 3);
    assert_eq!(quiz["questions"][1]["answerType"], "TRUE_FALSE");
    assert_eq!(quiz["questions"][1]["choices"][1]["content"], "False");

    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "one call per quiz");
    let (body, auth) = &requests[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(body["model"], "test-model-1");
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["strict"], true);
    let schema = &format["json_schema"]["schema"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["required"],
        json!(["title", "description", "questions"])
    );
    assert!(schema.to_string().contains("is_correct"));
    let prompt = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect::<String>();
    assert!(
        prompt.contains("Kennedy Space Center on July 16, 1969"),
        "the study text is sent"
    );
    assert!(prompt.contains("exactly 2") && prompt.contains("exactly 3 choices"));
    assert!(prompt.contains("hard"));

    // Answering and grading work on LLM quizzes too.
    let id = quiz["id"].as_str().unwrap();
    let res = c.submit(id, &[(1, 1), (2, 2)]).await.ok();
    assert_eq!(res.data()["submitQuizAnswers"]["correctCount"], 1);
}

#[tokio::test]
async fn a_bad_reply_gets_one_repair() {
    let (app, fake) = app_with_llm(
        vec![
            Reply::Content("{ this is not json".into()),
            Reply::Content(good_quiz()),
        ],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("repair").await;
    c.generate_quiz(input()).await.ok();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let repair = requests[1]["messages"].as_array().unwrap();
    assert_eq!(repair[repair.len() - 2]["role"], "assistant");
    assert!(
        repair.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("invalid")
    );
}

#[tokio::test]
async fn unusable_replies_end_as_llm_unavailable() {
    let wrong_count = json!({ "title": "t", "description": "d", "questions": [
        question("Only one?", &[("a", true), ("b", false), ("c", false)]) ] })
    .to_string();
    let two_correct = json!({ "title": "t", "description": "d", "questions": [
        question("Q1", &[("a", true), ("b", true), ("c", false)]),
        question("Q2", &[("a", true), ("b", false), ("c", false)]) ] })
    .to_string();
    let duplicate_choices = json!({ "title": "t", "description": "d", "questions": [
        question("Q1", &[("a", true), ("A", false), ("c", false)]),
        question("Q2", &[("a", true), ("b", false), ("c", false)]) ] })
    .to_string();
    for bad in [
        "not json at all".to_owned(),
        wrong_count,
        two_correct,
        duplicate_choices,
    ] {
        let (app, fake) = app_with_llm(
            vec![Reply::Content(bad.clone()), Reply::Content(bad.clone())],
            Duration::from_secs(10),
        )
        .await;
        let (c, _) = app.new_user("unlucky").await;
        let r = c.generate_quiz(input()).await;
        assert_eq!(r.code(), "LLM_UNAVAILABLE", "for {bad}");
        assert!(!r.message().contains("sk-test-key"));
        assert_eq!(fake.requests().len(), 2, "exactly one repair attempt");
        let r = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
        assert_eq!(r.data()["quizzes"]["totalCount"], 0);
    }
}

/// `LLM_OFFLINE_FALLBACK=true`: a model that gives nothing usable for a quiz asked from study
/// text leaves the learner with the offline generator's quiz from that text, marked `OFFLINE`,
/// over both APIs; what the offline generator cannot build still ends as `LLM_UNAVAILABLE`.
#[tokio::test]
async fn a_failed_model_falls_back_to_the_offline_generator_when_allowed() {
    let bad = || Reply::Content("not json at all".into());
    let (app, fake) = app_with_llm_and(
        vec![bad(), bad(), bad(), bad(), bad(), bad(), bad(), bad()],
        Duration::from_secs(10),
        |s| s.generation.llm_offline_fallback = true,
    )
    .await;
    let (c, _) = app.new_user("fallback").await;
    let r = c
        .gql(
            &format!(
                "mutation($i: GenerateQuizInput!) {{ generateQuiz(input: $i) {{ {} }} }}",
                common::QUIZ_FIELDS
            ),
            json!({ "i": input() }),
        )
        .await
        .ok();
    let quiz = &r.data()["generateQuiz"];
    assert_eq!(quiz["source"], "OFFLINE", "{quiz}");
    assert_eq!(quiz["questionCount"], 2);
    assert_eq!(quiz["questions"][0]["choices"].as_array().unwrap().len(), 3);
    assert_eq!(
        fake.requests().len(),
        2,
        "the model was asked, and repaired, first"
    );

    // The streamed job ends the same way, its progress never going back.
    let id = crate::live::start(&c, input()).await.ok().data()["startQuizGeneration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = crate::live::wait_for(&c, &id, |j| {
        j["status"] != "QUEUED" && j["status"] != "RUNNING"
    })
    .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["questionsReady"], 2, "{done}");
    let quiz_id = done["quiz"]["id"].as_str().unwrap();
    let r = c
        .gql(
            "query($id: ID!) { quiz(id: $id) { source } }",
            json!({ "id": quiz_id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quiz"]["source"], "OFFLINE");
    assert_eq!(fake.requests().len(), 4);

    // Nothing to build from offline: a topic alone, or true/false questions.
    for input in [
        json!({ "topic": "Apollo 11" }),
        json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "answerType": "TRUE_FALSE" }),
    ] {
        let r = c.generate_quiz(input.clone()).await;
        assert_eq!(r.code(), "LLM_UNAVAILABLE", "{input}");
    }
    assert_eq!(fake.requests().len(), 8);
    let r = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(r.data()["quizzes"]["totalCount"], 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    // Two failures, then success: retried with backoff.
    let (app, fake) = app_with_llm(
        vec![
            Reply::Status(500),
            Reply::Status(429),
            Reply::Content(good_quiz()),
        ],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("retry").await;
    c.generate_quiz(input()).await.ok();
    assert_eq!(fake.requests().len(), 3);

    // Persistent 500s: the initial try plus two retries, then LLM_UNAVAILABLE.
    let (app, fake) = app_with_llm(
        vec![
            Reply::Status(500),
            Reply::Status(500),
            Reply::Status(500),
            Reply::Content(good_quiz()),
        ],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("down").await;
    assert_eq!(c.generate_quiz(input()).await.code(), "LLM_UNAVAILABLE");
    assert_eq!(fake.requests().len(), 3);

    // A 400 is not retried.
    let (app, fake) = app_with_llm(vec![Reply::Status(400)], Duration::from_secs(10)).await;
    let (c, _) = app.new_user("rejected").await;
    assert_eq!(c.generate_quiz(input()).await.code(), "LLM_UNAVAILABLE");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_hanging_provider_is_cut_off_and_others_are_unaffected() {
    // The provider would hang for a minute; LLM_TIMEOUT cuts it off after 2 s.
    let (app, fake) = app_with_llm(
        vec![Reply::Hang(Duration::from_secs(60))],
        Duration::from_secs(2),
    )
    .await;
    let (c, _) = app.new_user("patient").await;
    let slow = {
        let c = c.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = c.generate_quiz(input()).await;
            (r, started.elapsed())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while fake.requests().is_empty() {
        assert!(Instant::now() < deadline, "the LLM was never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While the LLM call hangs, the rest of the API answers.
    assert_eq!(c.me().await.ok().data()["me"]["username"], "patient");
    assert!(
        !slow.is_finished(),
        "`me` answered only after the LLM call had ended"
    );
    let (r, took) = slow.await.unwrap();
    assert_eq!(r.code(), "LLM_UNAVAILABLE");
    assert!(
        took < Duration::from_secs(30),
        "bounded by LLM_TIMEOUT, not by the provider, took {took:?}"
    );
}

#[tokio::test]
async fn a_topic_alone_is_enough_with_an_llm() {
    let (app, fake) =
        app_with_llm(vec![Reply::Content(good_quiz())], Duration::from_secs(10)).await;
    let (c, _) = app.new_user("topical").await;
    let r = c
        .generate_quiz(json!({ "topic": "Apollo 11", "questionCount": 2, "choiceCount": 3 }))
        .await
        .ok();
    assert_eq!(r.data()["generateQuiz"]["source"], "LLM");
    let prompt = fake.requests()[0]["messages"].to_string();
    assert!(!prompt.contains("Study text"));
}

#[tokio::test]
async fn feedback_is_one_call_in_the_quiz_language_and_cached() {
    let feedback = json!({
        "summary": "한 문제를 틀렸습니다.",
        "items": [{ "question_number": 2, "feedback": "정답은 True 입니다." }],
    })
    .to_string();
    let (app, fake) = app_with_llm(
        vec![Reply::Content(good_quiz()), Reply::Content(feedback)],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("feedback").await;
    let mut i = input();
    i["language"] = json!("ko");
    let quiz = c.generate_quiz(i).await.ok().data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = c.submit(&quiz, &[(1, 1), (2, 2)]).await.ok().data()["submitQuizAnswers"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ask = || {
        let c = c.clone();
        let result = result.clone();
        async move {
            c.gql(
                "query($id: ID!) { quizResult(id: $id) { feedback { summary items { questionNumber feedback } } } }",
                json!({ "id": result }),
            )
            .await
            .ok()
            .data()["quizResult"]["feedback"]
                .clone()
        }
    };
    let first = ask().await;
    assert_eq!(first["summary"], "한 문제를 틀렸습니다.");
    assert_eq!(first["items"][0]["questionNumber"], 2);
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        2,
        "one call for the quiz, one for the feedback"
    );
    assert!(
        requests[1]["messages"].to_string().contains("\\\"ko\\\""),
        "asks in the quiz language"
    );
    for (i, purpose) in ["quiz", "feedback"].iter().enumerate() {
        assert!(
            requests[i]["messages"].to_string().contains("Korean (ko)"),
            "the {purpose} prompt names the language"
        );
    }
    assert_eq!(
        requests[1]["response_format"]["json_schema"]["strict"],
        true
    );
    // Cached: asking again calls nobody.
    assert_eq!(ask().await, first);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn feedback_falls_back_to_offline_when_the_llm_fails() {
    let (app, _fake) = app_with_llm(
        vec![Reply::Content(good_quiz()), Reply::Status(400)],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("fallback").await;
    let quiz = c.generate_quiz(input()).await.ok().data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = c.submit(&quiz, &[(1, 2)]).await.ok().data()["submitQuizAnswers"]["id"].clone();
    let r = c
        .gql("query($id: ID!) { quizResult(id: $id) { feedback { summary items { questionNumber feedback } } } }", json!({ "id": result }))
        .await
        .ok();
    let f = &r.data()["quizResult"]["feedback"];
    assert!(f["summary"].as_str().unwrap().contains("0 of 2"));
    assert!(
        f["items"][0]["feedback"]
            .as_str()
            .unwrap()
            .contains("Armstrong")
    );
}

/// A two-question quiz whose multiple-choice question has `answer` as its correct choice.
fn quiz_answering(answer: &str) -> String {
    json!({
        "title": "Apollo 11",
        "description": "The first crewed Moon landing.",
        "questions": [
            question("Who stayed in lunar orbit?", &[(answer, true), ("Aldrin", false), ("Armstrong", false)]),
            question("Apollo 11 landed in 1969.", &[("True", true), ("False", false)]),
        ],
    })
    .to_string()
}

#[tokio::test]
async fn an_answer_missing_from_the_study_text_is_repaired() {
    let (app, fake) = app_with_llm(
        vec![
            Reply::Content(quiz_answering("Yuri Gagarin")),
            Reply::Content(quiz_answering("Collins")),
        ],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("grounded").await;
    let quiz = c.generate_quiz(input()).await.ok().data()["generateQuiz"].clone();
    assert_eq!(quiz["questions"][0]["choices"][0]["content"], "Collins");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one repair round");
    let complaint = fake.last_message(1);
    assert!(
        complaint.contains("Yuri Gagarin") && complaint.contains("study text"),
        "{complaint}"
    );
}

#[tokio::test]
async fn an_answer_still_missing_after_the_repair_is_llm_unavailable() {
    let made_up = quiz_answering("Yuri Gagarin");
    let (app, fake) = app_with_llm(
        vec![Reply::Content(made_up.clone()), Reply::Content(made_up)],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("ungrounded").await;
    assert_eq!(c.generate_quiz(input()).await.code(), "LLM_UNAVAILABLE");
    assert_eq!(fake.requests().len(), 2);
    let r = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(r.data()["quizzes"]["totalCount"], 0);
}

#[tokio::test]
async fn an_answer_in_the_study_text_passes_whatever_its_case_and_punctuation() {
    // The text says "Neil A. Armstrong," and "the Sea of Tranquility.".
    for answer in ["neil a armstrong", "SEA OF TRANQUILITY!", "July 16 1969"] {
        let (app, fake) = app_with_llm(
            vec![Reply::Content(quiz_answering(answer))],
            Duration::from_secs(10),
        )
        .await;
        let (c, _) = app.new_user("faithful").await;
        let quiz = c.generate_quiz(input()).await.ok().data()["generateQuiz"].clone();
        assert_eq!(quiz["questions"][0]["choices"][0]["content"], answer);
        assert_eq!(fake.requests().len(), 1, "{answer:?} needed no repair");
    }
    // Without study text there is nothing to check against.
    let (app, fake) = app_with_llm(
        vec![Reply::Content(quiz_answering("Yuri Gagarin"))],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("topical").await;
    c.generate_quiz(json!({ "topic": "Space", "questionCount": 2, "choiceCount": 3 }))
        .await
        .ok();
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn one_request_generates_at_most_one_quiz() {
    // The query limits are raised so that only the per-request budget stands in the way.
    let (app, fake) = app_with_llm_and(
        vec![Reply::Content(good_quiz()); 30],
        Duration::from_secs(10),
        |c| {
            c.graphql.max_aliases = 50;
            c.graphql.max_root_fields = 50;
        },
    )
    .await;
    let (c, _) = app.new_user("greedy").await;
    let fields: String = (0..30)
        .map(|i| format!("q{i}: generateQuiz(input: $i) {{ id }} "))
        .collect();
    let r = c
        .gql(
            &format!("mutation($i: GenerateQuizInput!) {{ {fields} }}"),
            json!({ "i": input() }),
        )
        .await;
    let errors = r.errors().expect("the extra generations are refused");
    for e in errors {
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains("one quiz"),
            "names the limit: {e}"
        );
    }
    assert_eq!(
        fake.requests().len(),
        1,
        "one LLM call for the whole request"
    );
    let r = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(r.data()["quizzes"]["totalCount"], 1);
    // The next request may generate again.
    c.generate_quiz(input()).await.ok();
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn one_request_makes_at_most_one_feedback_call() {
    let feedback = json!({
        "summary": "Question 2 went wrong.",
        "items": [{ "question_number": 2, "feedback": "It was true." }],
    })
    .to_string();
    let mut replies = vec![Reply::Content(good_quiz())];
    replies.extend(vec![Reply::Content(feedback); 10]);
    let (app, fake) = app_with_llm(replies, Duration::from_secs(10)).await;
    let (c, _) = app.new_user("curious").await;
    let quiz = c.generate_quiz(input()).await.ok().data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..4 {
        c.submit(&quiz, &[(1, 1), (2, 2)]).await.ok();
    }
    let summaries = || {
        let c = c.clone();
        async move {
            let r = c
                .gql(
                    "{ quizResults(first: 100) { edges { node { feedback { summary } } } } }",
                    json!({}),
                )
                .await
                .ok();
            r.data()["quizResults"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    e["node"]["feedback"]["summary"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        }
    };
    let by_llm = |all: &[String]| {
        all.iter()
            .filter(|s| *s == "Question 2 went wrong.")
            .count()
    };

    let first = summaries().await;
    assert_eq!(first.len(), 4);
    assert_eq!(
        fake.requests().len(),
        2,
        "one quiz call and one feedback call"
    );
    assert_eq!(by_llm(&first), 1);
    // The rest got offline feedback, built from the result.
    assert!(
        first
            .iter()
            .filter(|s| *s != "Question 2 went wrong.")
            .all(|s| s.contains("1 of 2")),
        "{first:?}"
    );
    // Offline feedback was not cached: the next request asks the LLM for one more result.
    let second = summaries().await;
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(by_llm(&second), 2);
}

fn retry_after(r: &common::Gql) -> u64 {
    r.errors().unwrap()[0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter in {}", r.body))
}

#[tokio::test]
async fn generating_and_submitting_have_per_user_quotas() {
    let (app, fake) = app_with_llm_and(
        vec![Reply::Content(good_quiz()); 5],
        Duration::from_secs(10),
        |c| {
            c.auth.rate_limits.generate_per_user = "2/1h".parse().unwrap();
            c.auth.rate_limits.submit_per_user = "3/1h".parse().unwrap();
        },
    )
    .await;
    let (c, _) = app.new_user("prolific").await;
    let quiz = c.generate_quiz(input()).await.ok().data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.generate_quiz(input()).await.ok();
    let r = c.generate_quiz(input()).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert!(retry_after(&r) > 0);
    assert_eq!(fake.requests().len(), 2, "no LLM call over the quota");

    for _ in 0..3 {
        c.submit(&quiz, &[(1, 1), (2, 1)]).await.ok();
    }
    let r = c.submit(&quiz, &[(1, 1), (2, 1)]).await;
    assert_eq!(r.code(), "RATE_LIMITED");
    assert!(retry_after(&r) > 0);
    let r = c
        .gql("{ quizResults { totalCount } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["quizResults"]["totalCount"], 3);

    // The quota is the user's, not everyone's.
    let (other, _) = app.new_user("newcomer").await;
    other.generate_quiz(input()).await.ok();
    assert_eq!(fake.requests().len(), 3);
}

/// Every string (but an enum) and every array in `schema` has an upper bound.
fn unbounded_nodes(schema: &Value, path: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            let is = |t: &str| map.get("type").is_some_and(|v| v == t);
            if is("string") && !map.contains_key("enum") && !map.contains_key("maxLength") {
                out.push(path.to_owned());
            }
            if is("array") && !map.contains_key("maxItems") {
                out.push(path.to_owned());
            }
            for (k, v) in map {
                unbounded_nodes(v, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| unbounded_nodes(v, &format!("{path}/{i}"), out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_string_and_array_in_the_reply_schemas_is_bounded() {
    let feedback = json!({ "summary": "One wrong.", "items": [] }).to_string();
    let (app, fake) = app_with_llm(
        vec![Reply::Content(good_quiz()), Reply::Content(feedback)],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("bounded").await;
    let quiz = c.generate_quiz(input()).await.ok().data()["generateQuiz"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let result = c.submit(&quiz, &[(1, 1), (2, 2)]).await.ok().data()["submitQuizAnswers"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.gql(
        "query($id: ID!) { quizResult(id: $id) { feedback { summary } } }",
        json!({ "id": result }),
    )
    .await
    .ok();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "a quiz and its feedback");
    for request in &requests {
        let schema = &request["response_format"]["json_schema"]["schema"];
        let mut unbounded = Vec::new();
        unbounded_nodes(schema, "", &mut unbounded);
        assert!(unbounded.is_empty(), "unbounded: {unbounded:?} in {schema}");
    }
    let quiz_schema = requests[0]["response_format"]["json_schema"]["schema"].to_string();
    for bound in [
        "\"minItems\":1",
        "\"maxItems\":20",
        "\"minItems\":2",
        "\"maxItems\":6",
    ] {
        assert!(quiz_schema.contains(bound), "{bound} in {quiz_schema}");
    }
}

#[tokio::test]
async fn a_reply_cut_off_at_the_token_limit_is_a_failed_attempt() {
    // A cut-off reply may even parse; it is never used, and never sent back.
    let (app, fake) = app_with_llm_and(
        vec![
            Reply::CutOff(good_quiz()),
            Reply::Content(good_quiz()),
            Reply::CutOff(good_quiz()),
            Reply::CutOff(good_quiz()),
        ],
        Duration::from_secs(10),
        |c| c.llm.llm_max_tokens = Some(700),
    )
    .await;
    let (c, _) = app.new_user("cutoff").await;
    let quiz = c.generate_quiz(input()).await.ok();
    assert_eq!(quiz.data()["generateQuiz"]["source"], "LLM");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "the cut-off reply was repaired");
    assert_eq!(requests[0]["max_tokens"], 700, "LLM_MAX_TOKENS is sent");
    let repair = requests[1]["messages"].as_array().unwrap();
    assert!(repair.iter().all(|m| m["role"] != "assistant"));
    assert!(
        !requests[1]["messages"]
            .to_string()
            .contains("Who commanded Apollo 11?")
    );
    assert!(
        repair.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .contains("cut off")
    );

    let r = c.generate_quiz(input()).await;
    assert_eq!(r.code(), "LLM_UNAVAILABLE");
    assert_eq!(fake.requests().len(), 4, "one repair, then given up");
}

#[tokio::test]
async fn a_long_rejected_reply_is_summarised_in_the_repair_round() {
    let run_on = format!(
        "{{\"title\": \"Apollo 11\", \"description\": \"{}",
        "the Moon ".repeat(2_000)
    );
    let (app, fake) = app_with_llm(
        vec![Reply::Content(run_on), Reply::Content(good_quiz())],
        Duration::from_secs(10),
    )
    .await;
    let (c, _) = app.new_user("runon").await;
    let quiz = c.generate_quiz(input()).await.ok();
    assert_eq!(quiz.data()["generateQuiz"]["source"], "LLM");
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let first = requests[0]["messages"].to_string().len();
    let repair = requests[1]["messages"].to_string();
    assert!(
        repair.len() < first + 1_500,
        "the repair round grew by {} bytes",
        repair.len() - first
    );
    assert!(!repair.contains("the Moon the Moon"));
    let last = fake.last_message(1);
    assert!(
        last.contains("too long to repeat") && last.contains("not valid JSON"),
        "{last}"
    );
}
