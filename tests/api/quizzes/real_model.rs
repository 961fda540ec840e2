//! Against a real model: `LLM_TEST_URL` names an OpenAI-compatible server (in the suite,
//! llama.cpp's `llama-server` with SmolLM2-135M from `scripts/llama-test-server.sh`). Whatever
//! the small model writes, every outcome must be one docs/api.md describes: a stored quiz that
//! passed every check, or `LLM_UNAVAILABLE` after the repair round (or, with
//! `LLM_OFFLINE_FALLBACK`, as the streamed jobs run, a quiz built offline from the study text);
//! never `INTERNAL`, never a job that hangs. Without `LLM_TEST_URL` these tests do nothing, unless
//! `QUIZ_LLM_REQUIRE_LLM=1` (as `scripts/test.sh` sets for its real-model stage), when they fail.

use crate::common;

use std::time::{Duration, Instant};

use common::{APOLLO_11, Backend, KOREAN_TEXT, TestApp};
use serde_json::{Value, json};

/// A quiz from a small model on a shared CPU takes tens of seconds; a repair round doubles it.
const JOB_DEADLINE: Duration = Duration::from_secs(600);
/// Small enough to keep the stage short, large enough for two short questions.
const MAX_TOKENS: u32 = 1_024;

/// The real model's URL; `None` (the test returns) when there is none and none is required.
fn real_model_url() -> Option<String> {
    match std::env::var("LLM_TEST_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("QUIZ_LLM_REQUIRE_LLM").as_deref() == Ok("1") => panic!(
            "QUIZ_LLM_REQUIRE_LLM=1 but LLM_TEST_URL is not set: start a model with \
             `eval \"$(scripts/llama-test-server.sh start)\"` (scripts/test.sh does)"
        ),
        _ => {
            eprintln!("no LLM_TEST_URL: the real-model tests do nothing");
            None
        }
    }
}

async fn app_with_real_model(offline_fallback: bool) -> Option<TestApp> {
    let url = real_model_url()?;
    TestApp::spawn(Backend::Sqlite, |c| {
        c.generation.llm_offline_fallback = offline_fallback;
        c.llm.llm_base_url = Some(url);
        c.llm.llm_model = "SmolLM2-135M-Instruct".into();
        c.llm.llm_timeout = Duration::from_secs(240);
        c.llm.llm_max_tokens = Some(MAX_TOKENS);
        c.llm.llm_max_retries = 1;
    })
    .await
}

/// A case: (language, topic, study text). Each API meets both languages and both sources; four
/// runs in all keep the stage within minutes on two cores.
type Case = (&'static str, &'static str, Option<&'static str>);
fn one_shot_cases() -> [Case; 2] {
    [("en", "The water cycle", None), ("ko", "태양계", None)]
}
fn streamed_cases() -> [Case; 2] {
    [
        ("en", "Apollo 11", Some(APOLLO_11)),
        ("ko", "한국의 도시", Some(KOREAN_TEXT)),
    ]
}

fn input(language: &str, topic: &str, text: Option<&str>) -> Value {
    let mut input = json!({
        "topic": topic, "questionCount": 2, "choiceCount": 3, "language": language,
    });
    if let Some(text) = text {
        input["sourceText"] = json!(text);
    }
    input
}

/// A quiz that reached the client passed every check: the counts asked for, one correct choice
/// (not visible before submission, so graded here), its language, and made by the model.
async fn assert_checked_quiz(c: &common::Client, quiz: &Value, language: &str) {
    assert_eq!(quiz["source"], "LLM", "{quiz}");
    assert_answerable(c, quiz, language).await;
}

/// A stored quiz of the counts asked for, in its language, that grades.
async fn assert_answerable(c: &common::Client, quiz: &Value, language: &str) {
    assert_eq!(quiz["language"], language, "{quiz}");
    let questions = quiz["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 2, "{quiz}");
    for q in questions {
        let choices = q["choices"].as_array().unwrap().len();
        let expected = if q["answerType"] == "TRUE_FALSE" {
            2
        } else {
            3
        };
        assert_eq!(choices, expected, "{q}");
        assert!(!q["content"].as_str().unwrap().trim().is_empty(), "{q}");
    }
    let answers: Vec<(i64, i64)> = (1..=2).map(|n| (n, 1)).collect();
    let graded = c.submit(quiz["id"].as_str().unwrap(), &answers).await.ok();
    assert_eq!(graded.data()["submitQuizAnswers"]["totalQuestions"], 2);
}

#[tokio::test]
async fn generate_quiz_against_a_real_model_ends_as_documented() {
    let Some(app) = app_with_real_model(false).await else {
        return;
    };
    let (c, _) = app.new_user("realmodel").await;
    for (language, topic, text) in one_shot_cases() {
        let started = Instant::now();
        let r = c
            .gql_within(
                Some(JOB_DEADLINE),
                &format!(
                    "mutation($i: GenerateQuizInput!) {{ generateQuiz(input: $i) {{ {} }} }}",
                    common::QUIZ_FIELDS
                ),
                json!({ "i": input(language, topic, text) }),
            )
            .await;
        let case = format!("{language}, {topic}, study text: {}", text.is_some());
        match r.errors() {
            None => assert_checked_quiz(&c, &r.data()["generateQuiz"], language).await,
            Some(_) => assert_eq!(r.code(), "LLM_UNAVAILABLE", "{case}: {}", r.body),
        }
        eprintln!(
            "real model, generateQuiz ({case}): {} in {:.1} s",
            if r.errors().is_none() {
                "quiz"
            } else {
                "LLM_UNAVAILABLE"
            },
            started.elapsed().as_secs_f64()
        );
    }
}

#[tokio::test]
async fn streamed_generation_against_a_real_model_ends_as_documented() {
    let Some(app) = app_with_real_model(true).await else {
        return;
    };
    let (c, _) = app.new_user("realstream").await;
    for (language, topic, text) in streamed_cases() {
        let case = format!("{language}, {topic}, study text: {}", text.is_some());
        let started = Instant::now();
        let id = crate::live::started(&c, input(language, topic, text)).await;
        let mut states = Vec::new();
        let last = loop {
            let job = crate::live::job(&c, &id).await;
            states.push(job.clone());
            if job["status"] != "QUEUED" && job["status"] != "RUNNING" {
                break job;
            }
            assert!(
                started.elapsed() < JOB_DEADLINE,
                "{case}: the job hangs at {job}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        for pair in states.windows(2) {
            assert!(
                pair[1]["questionsReady"].as_i64() >= pair[0]["questionsReady"].as_i64(),
                "{case}: progress went back: {} then {}",
                pair[0],
                pair[1]
            );
        }
        match last["status"].as_str().unwrap() {
            "SUCCEEDED" => {
                assert_eq!(last["questionsReady"], 2, "{case}: {last}");
                let quiz_id = last["quiz"]["id"].as_str().unwrap();
                let quiz = c
                    .gql(
                        &format!(
                            "query($id: ID!) {{ quiz(id: $id) {{ {} }} }}",
                            common::QUIZ_FIELDS
                        ),
                        json!({ "id": quiz_id }),
                    )
                    .await
                    .ok();
                let quiz = &quiz.data()["quiz"];
                match quiz["source"].as_str() {
                    Some("LLM") => assert_checked_quiz(&c, quiz, language).await,
                    // The model failed; LLM_OFFLINE_FALLBACK built it from the study text.
                    Some("OFFLINE") => assert_answerable(&c, quiz, language).await,
                    other => panic!("{case}: a quiz from {other:?}: {quiz}"),
                }
                eprintln!(
                    "real model, startQuizGeneration ({case}): source {}",
                    quiz["source"]
                );
            }
            // Study text and the fallback: whatever the model does, the learner gets a quiz.
            other => panic!("{case}: the job ended {other}: {last}"),
        }
        eprintln!(
            "real model, startQuizGeneration ({case}): {} in {:.1} s",
            last["status"],
            started.elapsed().as_secs_f64()
        );
    }
}
