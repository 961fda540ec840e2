//! SHORT_ANSWER questions: generated offline (fill in the blank) or by the model, answered by
//! typing, graded normalised (case, width, spacing, punctuation, a Korean particle), and judged
//! by the model when close to an accepted answer but not equal.

use crate::common;

use std::time::Duration;

use common::{APOLLO_11, Backend, Client, KOREAN_TEXT, RESULT_FIELDS, fake_llm::Reply};
use serde_json::{Value, json};

use super::llm::{CREW, llm_app_on};

on_every_store!(
    typed_answers_are_graded_normalised,
    answers_of_the_wrong_kind_are_refused_and_nothing_is_kept,
);

const SUBMIT: &str = "mutation($q: ID!, $a: [AnswerInput!]!) { submitQuizAnswers(quizId: $q, answers: $a) { RESULT gradingNotes: details { gradingNote } } }";

async fn submit_typed(c: &Client, quiz: &Value, answers: Value) -> common::Gql {
    c.gql(
        &SUBMIT.replace("RESULT", RESULT_FIELDS),
        json!({ "q": quiz["id"], "a": answers }),
    )
    .await
}

async fn short_answer_quiz(c: &Client, text: &str, questions: i64, language: &str) -> Value {
    c.generate_quiz(json!({
        "topic": "Study notes", "sourceText": text, "questionCount": questions,
        "language": language, "answerType": "SHORT_ANSWER",
    }))
    .await
    .ok()
    .data()["generateQuiz"]
        .clone()
}

/// The accepted answer of each question, learned by submitting nothing.
async fn typed_key(c: &Client, quiz: &Value) -> Vec<String> {
    let r = submit_typed(c, quiz, json!([])).await.ok();
    r.data()["submitQuizAnswers"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["correctChoice"], 0, "a typed question has no choices");
            d["correctContent"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn typed_answers_are_graded_normalised(backend: Backend) {
    let Some(app) = common::TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("typist").await;
    let quiz = short_answer_quiz(&c, APOLLO_11, 3, "en").await;
    for q in quiz["questions"].as_array().unwrap() {
        assert_eq!(q["answerType"], "SHORT_ANSWER");
        assert_eq!(q["choices"], json!([]), "the answer is not given away");
        assert!(q["content"].as_str().unwrap().contains("_____"));
    }
    let key = typed_key(&c, &quiz).await;
    let r = submit_typed(
        &c,
        &quiz,
        json!([
            { "questionNumber": 1, "text": format!("  {}!! ", key[0].to_uppercase()) },
            { "questionNumber": 2, "text": format!("“{}”", key[1].replace(' ', "   ")) },
            { "questionNumber": 3, "text": "zebra crossing" },
        ]),
    )
    .await
    .ok();
    let result = &r.data()["submitQuizAnswers"];
    let details = result["details"].as_array().unwrap();
    let correct: Vec<bool> = details
        .iter()
        .map(|d| d["isCorrect"].as_bool().unwrap())
        .collect();
    assert_eq!(correct, [true, true, false]);
    assert_eq!(result["correctCount"], 2);
    assert_eq!(
        details[2]["selectedContent"], "zebra crossing",
        "kept as typed"
    );
    assert_eq!(details[2]["selectedChoice"], Value::Null);
    assert_eq!(details[2]["correctContent"], key[2].as_str());
    // Without a model nobody judged anything.
    assert!(
        result["gradingNotes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["gradingNote"].is_null())
    );

    // Korean: a particle the learner adds, or a space, is not a different answer.
    let quiz = short_answer_quiz(&c, KOREAN_TEXT, 4, "ko").await;
    assert!(
        quiz["questions"][0]["content"]
            .as_str()
            .unwrap()
            .starts_with("빈칸")
    );
    let key = typed_key(&c, &quiz).await;
    let with_particle = |answer: &str| {
        let last = answer.chars().last().unwrap();
        let hangul = ('가'..='힣').contains(&last);
        let batchim = hangul && (u32::from(last) - 0xAC00) % 28 != 0;
        format!("{answer}{}", if batchim { "은" } else { "는" })
    };
    let spaced = |answer: &str| {
        let mut chars: Vec<char> = answer.chars().collect();
        if chars.len() > 1 {
            chars.insert(1, ' ');
        }
        chars.into_iter().collect::<String>()
    };
    let r = submit_typed(
        &c,
        &quiz,
        json!([
            { "questionNumber": 1, "text": with_particle(&key[0]) },
            { "questionNumber": 2, "text": spaced(&key[1]) },
            { "questionNumber": 3, "text": key[2] },
            { "questionNumber": 4, "text": "바나나" },
        ]),
    )
    .await
    .ok();
    let details = r.data()["submitQuizAnswers"]["details"]
        .as_array()
        .unwrap()
        .clone();
    let correct: Vec<bool> = details
        .iter()
        .map(|d| d["isCorrect"].as_bool().unwrap())
        .collect();
    assert_eq!(correct, [true, true, true, false], "{key:?}");

    // Feedback without a model speaks the quiz's language and quotes what was typed.
    let id = r.data()["submitQuizAnswers"]["id"].clone();
    let r = c
        .gql(
            "query($i: ID!) { quizResult(id: $i) { feedback { summary items { questionNumber feedback } } } }",
            json!({ "i": id }),
        )
        .await
        .ok();
    let feedback = &r.data()["quizResult"]["feedback"];
    assert_eq!(
        feedback["summary"],
        "4문제 가운데 3문제를 맞혔습니다(75%). 4번 문제를 다시 살펴보세요."
    );
    assert_eq!(
        feedback["items"][0]["feedback"].as_str().unwrap(),
        format!("쓴 답: \"바나나\". 정답: \"{}\". ", key[3])
            + details[3]["explanation"].as_str().unwrap()
    );
}

async fn answers_of_the_wrong_kind_are_refused_and_nothing_is_kept(backend: Backend) {
    let Some(app) = common::TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("careless").await;
    let typed = short_answer_quiz(&c, APOLLO_11, 1, "en").await;
    let choice = super::offline::quiz_from(&c, APOLLO_11, 1, "en").await;
    let long = "a".repeat(501);
    for (quiz, answer) in [
        (&typed, json!({ "questionNumber": 1, "choiceNumber": 1 })),
        (&typed, json!({ "questionNumber": 1 })),
        (&typed, json!({ "questionNumber": 1, "text": "   " })),
        (&typed, json!({ "questionNumber": 1, "text": long })),
        (&choice, json!({ "questionNumber": 1, "text": "Armstrong" })),
        (
            &choice,
            json!({ "questionNumber": 1, "choiceNumber": 1, "text": "Armstrong" }),
        ),
        (&choice, json!({ "questionNumber": 1 })),
    ] {
        let r = submit_typed(&c, quiz, json!([answer])).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("answers")),
            "{answer}"
        );
    }
    let r = c
        .gql("{ quizResults { totalCount } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["quizResults"]["totalCount"], 0, "nothing kept");

    // Without a model, TRUE_FALSE cannot be built from study text; it says so.
    let r = c
        .generate_quiz(json!({ "topic": "t", "sourceText": APOLLO_11, "answerType": "TRUE_FALSE" }))
        .await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("answerType"))
    );
    assert!(r.message().contains("SHORT_ANSWER"), "{}", r.message());
}

fn typed_quiz_reply() -> String {
    let question = |content: &str, answer: &str| {
        json!({
            "content": content,
            "answer_type": "multiple_choice",
            "choices": [
                { "content": answer, "is_correct": true },
                { "content": "Yuri Gagarin", "is_correct": false },
                { "content": "John Glenn", "is_correct": false },
            ],
            "explanation": "The text names the crew.",
            "quote": CREW,
        })
    };
    json!({
        "title": "Apollo 11",
        "description": "The crew.",
        "questions": [
            question("Who was the mission commander?", "Neil A. Armstrong"),
            question("Who piloted the lunar module beside the commander?", "Buzz Aldrin"),
            question("Who stayed in the command module?", "Michael Collins"),
        ],
    })
    .to_string()
}

fn grades(grades: Value) -> Reply {
    Reply::Content(json!({ "grades": grades }).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_typed_answers_are_judged_by_the_model_once() {
    let (app, fake) = llm_app_on(
        Backend::Sqlite,
        vec![
            Reply::Content(typed_quiz_reply()),
            grades(json!([
                { "question_number": 1, "correct": true, "reason": "A misspelling of Armstrong's name." },
                { "question_number": 2, "correct": false, "reason": "Aldrich is another person." },
            ])),
            // Refused outright (a 5xx would be retried with backoff).
            Reply::Status(400),
        ],
        Duration::from_secs(10),
        |_| {},
    )
    .await
    .unwrap();
    let (c, _) = app.new_user("judged").await;
    let quiz = c
        .generate_quiz(json!({
            "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 3,
            "choiceCount": 3, "answerType": "SHORT_ANSWER",
        }))
        .await
        .ok()
        .data()["generateQuiz"]
        .clone();
    assert!(
        fake.last_message(0).contains("type the answer"),
        "the prompt says so"
    );
    assert_eq!(quiz["questions"][0]["choices"], json!([]));
    let r = submit_typed(
        &c,
        &quiz,
        json!([
            { "questionNumber": 1, "text": "Neil A. Armstrnog" },
            { "questionNumber": 2, "text": "Buzz Aldrich" },
            { "questionNumber": 3, "text": "Gagarin" },
        ]),
    )
    .await
    .ok();
    let result = &r.data()["submitQuizAnswers"];
    let notes: Vec<Value> = result["gradingNotes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["gradingNote"].clone())
        .collect();
    assert_eq!(
        notes,
        [
            json!("A misspelling of Armstrong's name."),
            json!("Aldrich is another person."),
            Value::Null
        ]
    );
    assert_eq!(result["correctCount"], 1, "the model's verdicts count");
    // One call for both close answers; the far one was never asked about.
    assert_eq!(fake.requests().len(), 2);
    let asked = fake.last_message(1);
    assert!(
        asked.contains("Armstrnog") && asked.contains("Aldrich"),
        "{asked}"
    );
    assert!(!asked.contains("Gagarin\""), "{asked}");

    // When the model fails, a close answer stays wrong: no point is given unearned.
    let r = submit_typed(
        &c,
        &quiz,
        json!([{ "questionNumber": 1, "text": "Neil A. Armstrnog" }]),
    )
    .await
    .ok();
    let result = &r.data()["submitQuizAnswers"];
    assert_eq!(result["correctCount"], 0);
    assert_eq!(result["gradingNotes"][0]["gradingNote"], Value::Null);
}
