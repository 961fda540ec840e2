//! Every question names the passage of the study text it was built from: offline from its
//! sentence, from the LLM by a quote that must be in the text, with the page of an uploaded PDF.
//! Shown with results only, never with the questions (it holds the answer).

use crate::common;

use std::time::Duration;

use crate::live::{start, wait_for};
use common::{APOLLO_11, Backend, Client, KOREAN_TEXT, TestApp, fake_llm::Reply};
use serde_json::{Value, json};

use super::{
    llm::{CREW, llm_app_on, question},
    materials::{apollo_pages, pdf, upload},
};

on_every_store!(
    offline_questions_name_their_sentence,
    the_llm_quote_must_be_in_the_text,
    a_pdf_passage_names_its_page,
);

const SUBMIT: &str = "mutation($q: ID!) { submitQuizAnswers(quizId: $q, answers: []) { id \
    details { questionNumber correctContent source { excerpt start end page } } } }";
const RESULT: &str = "query($id: ID!) { quizResult(id: $id) { \
    details { questionNumber correctContent source { excerpt start end page } } } }";

/// The details of a submission of no answers, checked to be the same when read back.
async fn details(c: &Client, quiz: &Value) -> Vec<Value> {
    let r = c.gql(SUBMIT, json!({ "q": quiz["id"] })).await.ok();
    let result = &r.data()["submitQuizAnswers"];
    let details = result["details"].as_array().unwrap().clone();
    assert_eq!(json!(details.len()), quiz["questionCount"]);
    let stored = c.gql(RESULT, json!({ "id": result["id"] })).await.ok();
    assert_eq!(stored.data()["quizResult"]["details"], json!(details));
    details
}

/// The characters of `text` from `start` to `end` of `source`.
fn at(text: &str, source: &Value) -> String {
    let start = source["start"].as_u64().unwrap() as usize;
    let end = source["end"].as_u64().unwrap() as usize;
    assert!(start < end, "{source}");
    text.chars().skip(start).take(end - start).collect()
}

async fn offline_questions_name_their_sentence(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("sourced").await;
    // Whitespace before the text counts: offsets are into the text as sent. Korean takes more
    // than one byte a character, so offsets in bytes would miss.
    for (text, language) in [
        (format!("\n  {APOLLO_11}"), "en"),
        (format!(" {KOREAN_TEXT}"), "ko"),
    ] {
        let input = json!({ "topic": "Notes", "sourceText": text, "questionCount": 5, "language": language });
        let quiz = c.generate_quiz(input).await.ok().data()["generateQuiz"].clone();
        for d in details(&c, &quiz).await {
            let source = &d["source"];
            let excerpt = source["excerpt"].as_str().unwrap();
            assert_eq!(at(&text, source), excerpt, "{d}");
            assert!(
                excerpt.contains(d["correctContent"].as_str().unwrap()),
                "{d}"
            );
            assert_eq!(source["page"], Value::Null, "sent text has no pages");
        }
    }

    // Before submission the passage is nowhere: Question has no such field.
    let r = c
        .gql(
            r#"{ __type(name: "Question") { fields { name } } }"#,
            json!({}),
        )
        .await
        .ok();
    let fields: Vec<&str> = r.data()["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"content") && !fields.contains(&"source"),
        "{fields:?}"
    );
    let r = c
        .gql(
            "{ quizzes { edges { node { questions { source { excerpt } } } } } }",
            json!({}),
        )
        .await;
    let errors = r.errors().expect("a query for it fails validation");
    assert!(
        errors[0]["message"].as_str().unwrap().contains("source"),
        "{errors:?}"
    );
    assert_eq!(r.data(), &Value::Null);
}

fn quoting(quote: &str) -> String {
    let mut q = question(
        "Who stayed in lunar orbit?",
        &[("Collins", true), ("Aldrin", false), ("Armstrong", false)],
    );
    q["quote"] = json!(quote);
    json!({ "title": "Apollo 11", "description": "d", "questions": [q] }).to_string()
}

async fn the_llm_quote_must_be_in_the_text(backend: Backend) {
    // The model quotes loosely (case, punctuation): the passage is the text's own words.
    let loose = "the crew consisted of NEIL A ARMSTRONG buzz aldrin and michael collins";
    let replies = vec![
        Reply::Content(quoting("Collins flew to the Moon with Yuri Gagarin.")),
        Reply::Content(quoting(loose)),
        Reply::Content(quoting("")),
    ];
    let Some((app, fake)) = llm_app_on(backend, replies, Duration::from_secs(10), |_| {}).await
    else {
        return;
    };
    let (c, _) = app.new_user("quoted").await;
    let input = json!({ "topic": "Apollo 11", "sourceText": APOLLO_11, "questionCount": 1, "choiceCount": 3 });
    let quiz = c.generate_quiz(input).await.ok().data()["generateQuiz"].clone();
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one repair round");
    let complaint = fake.last_message(1);
    assert!(
        complaint.contains("Yuri Gagarin") && complaint.contains("quote"),
        "{complaint}"
    );
    let schema = &requests[0]["response_format"]["json_schema"]["schema"];
    assert!(
        schema.to_string().contains("\"quote\""),
        "the schema asks for it"
    );

    let d = &details(&c, &quiz).await[0];
    let expected = CREW.trim_end_matches('.');
    assert_eq!(d["source"]["excerpt"], expected);
    assert_eq!(at(APOLLO_11, &d["source"]), expected);
    assert_eq!(d["source"]["page"], Value::Null);

    // A topic alone has no text to quote from.
    let quiz = c
        .generate_quiz(json!({ "topic": "Space", "questionCount": 1, "choiceCount": 3 }))
        .await
        .ok()
        .data()["generateQuiz"]
        .clone();
    assert_eq!(details(&c, &quiz).await[0]["source"], Value::Null);
}

async fn a_pdf_passage_names_its_page(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("paged").await;
    let (one, two) = apollo_pages();
    let r = upload(&c, "Apollo.pdf", &pdf(&[&one, &two])).await.ok();
    let id = &r.data()["uploadStudyMaterial"]["id"];
    let input = json!({ "topic": "Apollo", "materialId": id, "questionCount": 10 });
    let quiz = c.generate_quiz(input.clone()).await.ok().data()["generateQuiz"].clone();
    let details_now = details(&c, &quiz).await;
    let mut pages = Vec::new();
    for d in &details_now {
        let source = &d["source"];
        let excerpt = source["excerpt"].as_str().unwrap();
        let page = if one.contains(excerpt) { 1 } else { 2 };
        assert!([&one, &two][page - 1].contains(excerpt), "{d}");
        assert_eq!(source["page"], page, "{d}");
        pages.push(page);
    }
    assert!(pages.contains(&1) && pages.contains(&2), "{pages:?}");

    // A background job keeps what pages need with its input: the same quiz, the same passages.
    let r = start(&c, input).await.ok();
    let id = r.data()["startQuizGeneration"]["id"].as_str().unwrap();
    let done = wait_for(&c, id, |j| j["status"] == "SUCCEEDED").await;
    assert_eq!(details(&c, &done["quiz"]).await, details_now);
}
