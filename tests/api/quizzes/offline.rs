//! Quizzes over HTTP with the offline generator: generation, grading, history, ownership,
//! deletion, validation and feedback.

use crate::common;

use common::{APOLLO_11, Backend, Client, Gql, KOREAN_TEXT, TestApp};
use serde_json::{Value, json};

on_every_store!(
    offline_quiz_from_english_text,
    offline_quiz_from_korean_text,
    grading_all_none_partial_unanswered,
    history_and_pagination,
    quizzes_are_private,
    deleting_a_quiz_keeps_its_results,
    generation_input_is_validated,
    answers_are_validated,
    offline_feedback,
    pages_follow_deletions_by_other_processes,
);

pub(crate) async fn quiz_from(c: &Client, text: &str, questions: i64, language: &str) -> Value {
    c.generate_quiz(json!({
        "topic": "Study notes",
        "sourceText": text,
        "questionCount": questions,
        "choiceCount": 4,
        "language": language,
    }))
    .await
    .ok()
    .data()["generateQuiz"]
        .clone()
}

/// The correct choice of each question, learned by submitting nothing.
pub(crate) async fn answer_key(c: &Client, quiz: &Value) -> Vec<(i64, i64)> {
    let r = c.submit(quiz["id"].as_str().unwrap(), &[]).await.ok();
    details_of(&r, quiz["questions"].as_array().unwrap().len())
        .iter()
        .map(|d| {
            (
                d["questionNumber"].as_i64().unwrap(),
                d["correctChoice"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A result's details, checked to hold exactly one entry per question, numbered in order (so a
/// loop over them cannot pass by seeing none).
fn details_of(r: &Gql, questions: usize) -> &Vec<Value> {
    let details = r.data()["submitQuizAnswers"]["details"].as_array().unwrap();
    assert_eq!(details.len(), questions, "one detail per question");
    for (i, d) in details.iter().enumerate() {
        assert_eq!(d["questionNumber"], i as i64 + 1);
    }
    details
}

fn check_shape(quiz: &Value, questions: usize, choices: usize) {
    let qs = quiz["questions"].as_array().unwrap();
    assert_eq!(qs.len(), questions);
    assert_eq!(quiz["questionCount"], questions as i64);
    let mut contents = std::collections::HashSet::new();
    for (i, q) in qs.iter().enumerate() {
        assert_eq!(q["number"], i as i64 + 1);
        assert_eq!(q["answerType"], "MULTIPLE_CHOICE");
        assert!(
            contents.insert(q["content"].as_str().unwrap().to_owned()),
            "questions repeat"
        );
        let cs = q["choices"].as_array().unwrap();
        assert_eq!(cs.len(), choices);
        for (j, c) in cs.iter().enumerate() {
            assert_eq!(c["number"], j as i64 + 1);
            assert!(!c["content"].as_str().unwrap().is_empty());
            assert_eq!(
                c.as_object().unwrap().len(),
                2,
                "a choice reveals nothing more"
            );
        }
    }
}

async fn offline_quiz_from_english_text(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("reader").await;
    let quiz = quiz_from(&c, APOLLO_11, 5, "en").await;
    assert_eq!(quiz["source"], "OFFLINE");
    assert_eq!(quiz["difficulty"], "MEDIUM");
    assert_eq!(quiz["topic"], "Study notes");
    check_shape(&quiz, 5, 4);
    // Every correct answer is a piece of the study text.
    let r = c.submit(quiz["id"].as_str().unwrap(), &[]).await.ok();
    for d in details_of(&r, 5) {
        let answer = d["correctContent"].as_str().unwrap();
        assert!(APOLLO_11.contains(answer), "{answer} is not in the text");
        assert!(d["question"].as_str().unwrap().contains("_____"));
    }
    // The same text and settings give the same quiz.
    let again = quiz_from(&c, APOLLO_11, 5, "en").await;
    assert_eq!(again["questions"], quiz["questions"]);
    assert_ne!(again["id"], quiz["id"]);
    // The schema has no way to ask for correctness before submitting.
    let r = c
        .gql(
            &format!(
                "{{ quiz(id: \"{}\") {{ questions {{ choices {{ correct }} }} }} }}",
                quiz["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT");
}

async fn offline_quiz_from_korean_text(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("hangul").await;
    let quiz = quiz_from(&c, KOREAN_TEXT, 4, "ko").await;
    assert_eq!(quiz["language"], "ko");
    check_shape(&quiz, 4, 4);
    let r = c.submit(quiz["id"].as_str().unwrap(), &[]).await.ok();
    for d in details_of(&r, 4) {
        let answer = d["correctContent"].as_str().unwrap();
        assert!(KOREAN_TEXT.contains(answer), "{answer} is not in the text");
        assert!(
            answer
                .chars()
                .any(|ch| ('가'..='힣').contains(&ch) || ch.is_ascii_digit())
        );
    }
}

async fn grading_all_none_partial_unanswered(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("grader").await;
    let quiz = quiz_from(&c, APOLLO_11, 4, "en").await;
    let id = quiz["id"].as_str().unwrap();
    let key = answer_key(&c, &quiz).await;
    let wrong: Vec<(i64, i64)> = key
        .iter()
        .map(|(q, a)| (*q, if *a == 1 { 2 } else { 1 }))
        .collect();

    assert_eq!(key.len(), 4);
    let all_gql = c.submit(id, &key).await.ok();
    let all = &all_gql.data()["submitQuizAnswers"];
    assert_eq!(
        (all["correctCount"].as_i64(), all["totalQuestions"].as_i64()),
        (Some(4), Some(4))
    );
    assert_eq!(all["score"], 100.0);
    assert_eq!(all["quizTitle"], "Study notes");
    assert!(
        details_of(&all_gql, 4)
            .iter()
            .all(|d| d["isCorrect"] == true)
    );

    let none_gql = c.submit(id, &wrong).await.ok();
    let none = &none_gql.data()["submitQuizAnswers"];
    assert!(
        details_of(&none_gql, 4)
            .iter()
            .all(|d| d["isCorrect"] == false)
    );
    assert_eq!(none["correctCount"], 0);
    assert_eq!(none["score"], 0.0);
    let d0 = &none["details"][0];
    assert_eq!(d0["selectedChoice"], wrong[0].1);
    assert_ne!(d0["selectedContent"], d0["correctContent"]);

    // Two right, one wrong, one unanswered.
    let partial_gql = c.submit(id, &[key[0], key[1], wrong[2]]).await.ok();
    let partial = &partial_gql.data()["submitQuizAnswers"];
    details_of(&partial_gql, 4);
    assert_eq!(partial["correctCount"], 2);
    assert_eq!(partial["score"], 50.0);
    let unanswered = &partial["details"][3];
    assert_eq!(unanswered["selectedChoice"], Value::Null);
    assert_eq!(unanswered["selectedContent"], Value::Null);
    assert_eq!(unanswered["isCorrect"], false);
    assert_eq!(unanswered["correctChoice"], key[3].1);
}

async fn history_and_pagination(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("historian").await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(
            quiz_from(&c, APOLLO_11, n, "en").await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let page = |first: i64, after: Option<String>| {
        let c = c.clone();
        async move {
            c.gql(
                "query($f: Int, $a: String) { quizzes(first: $f, after: $a) { totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
                json!({ "f": first, "a": after }),
            )
            .await
            .ok()
            .data()["quizzes"]
                .clone()
        }
    };
    let p1 = page(2, None).await;
    assert_eq!(p1["totalCount"], 3);
    let got: Vec<&str> = p1["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    assert_eq!(p1["pageInfo"]["hasPreviousPage"], false);
    let p2 = page(2, p1["pageInfo"]["endCursor"].as_str().map(str::to_owned)).await;
    let got: Vec<&str> = p2["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[0].as_str()]);
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
    // The default page holds all three.
    let all = c
        .gql("{ quizzes { edges { node { id } } } }", json!({}))
        .await
        .ok();
    assert_eq!(all.data()["quizzes"]["edges"].as_array().unwrap().len(), 3);

    // Results: newest first, filtered by quiz.
    c.submit(&ids[0], &[]).await.ok();
    c.submit(&ids[1], &[]).await.ok();
    let last = c.submit(&ids[1], &[(1, 1)]).await.ok().data()["submitQuizAnswers"]["id"].clone();
    let r = c
        .gql("query($q: ID) { quizResults(first: 10, quizId: $q) { totalCount edges { node { id quizId } } } }", json!({ "q": ids[1] }))
        .await
        .ok();
    assert_eq!(r.data()["quizResults"]["totalCount"], 2);
    assert_eq!(r.data()["quizResults"]["edges"][0]["node"]["id"], last);
    let r = c
        .gql("{ quizResults { totalCount } }", json!({}))
        .await
        .ok();
    assert_eq!(r.data()["quizResults"]["totalCount"], 3);
    let r = c
        .gql(
            "query($id: ID!) { quizResult(id: $id) { id totalQuestions } }",
            json!({ "id": last }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quizResult"]["totalQuestions"], 2);
}

async fn quizzes_are_private(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (owner, _) = app.new_user("owner").await;
    let (other, _) = app.new_user("stranger").await;
    let quiz = quiz_from(&owner, APOLLO_11, 2, "en").await;
    let id = quiz["id"].as_str().unwrap();
    let result_id = owner.submit(id, &[]).await.ok().data()["submitQuizAnswers"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = other
        .gql(
            "query($id: ID!) { quiz(id: $id) { title questions { content } } }",
            json!({ "id": id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quiz"], Value::Null);
    let r = other
        .gql(
            "query($id: ID!) { quizResult(id: $id) { score } }",
            json!({ "id": result_id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quizResult"], Value::Null);
    assert_eq!(other.submit(id, &[]).await.code(), "NOT_FOUND");
    let r = other
        .gql(
            "mutation($id: ID!) { deleteQuiz(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert!(!r.body.to_string().contains("Apollo"));
    let r = other
        .gql(
            "{ quizzes { totalCount } quizResults { totalCount } }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(r.data()["quizzes"]["totalCount"], 0);
    assert_eq!(r.data()["quizResults"]["totalCount"], 0);
    // The owner still has everything.
    let r = owner
        .gql(
            "query($id: ID!) { quiz(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quiz"]["id"], id);

    // Without a login nothing is reachable.
    let anon = app.client();
    for q in [
        "{ quizzes { totalCount } }",
        "{ quizResults { totalCount } }",
    ] {
        assert_eq!(anon.gql(q, json!({})).await.code(), "UNAUTHENTICATED");
    }
    assert_eq!(anon.submit(id, &[]).await.code(), "UNAUTHENTICATED");
    assert_eq!(
        anon.generate_quiz(json!({ "topic": "x", "sourceText": APOLLO_11 }))
            .await
            .code(),
        "UNAUTHENTICATED"
    );
}

async fn deleting_a_quiz_keeps_its_results(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("deleter").await;
    let quiz = quiz_from(&c, APOLLO_11, 3, "en").await;
    let id = quiz["id"].as_str().unwrap();
    let key = answer_key(&c, &quiz).await;
    let result = c.submit(id, &key).await.ok().data()["submitQuizAnswers"].clone();

    let r = c
        .gql(
            "mutation($id: ID!) { deleteQuiz(id: $id) }",
            json!({ "id": id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["deleteQuiz"], true);
    let r = c
        .gql(
            "query($id: ID!) { quiz(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quiz"], Value::Null);
    assert_eq!(
        c.gql(
            "mutation($id: ID!) { deleteQuiz(id: $id) }",
            json!({ "id": id })
        )
        .await
        .code(),
        "NOT_FOUND"
    );
    assert_eq!(c.submit(id, &[]).await.code(), "NOT_FOUND");

    let r = c
        .gql(
            &format!(
                "query($id: ID!) {{ quizResult(id: $id) {{ {} }} }}",
                common::RESULT_FIELDS
            ),
            json!({ "id": result["id"] }),
        )
        .await
        .ok();
    assert_eq!(r.data()["quizResult"], result, "the snapshot is unchanged");
    let r = c
        .gql(
            "{ quizResults { totalCount } quizzes { totalCount } }",
            json!({}),
        )
        .await
        .ok();
    assert_eq!(r.data()["quizResults"]["totalCount"], 2);
    assert_eq!(r.data()["quizzes"]["totalCount"], 0);
}

fn expect_field(r: &Gql, field: &str) {
    assert_eq!(r.code(), "BAD_USER_INPUT", "{}", r.body);
    assert_eq!(r.field(), Some(field), "{}", r.body);
}

async fn generation_input_is_validated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("validator").await;
    let base = json!({ "topic": "Apollo", "sourceText": APOLLO_11 });
    let with = |key: &str, value: Value| {
        let mut v = base.clone();
        v[key] = value;
        v
    };
    let cases = [
        (with("topic", json!("   ")), "topic"),
        (with("topic", json!("x".repeat(201))), "topic"),
        (with("questionCount", json!(0)), "questionCount"),
        (with("questionCount", json!(21)), "questionCount"),
        (with("choiceCount", json!(1)), "choiceCount"),
        (with("choiceCount", json!(7)), "choiceCount"),
        (with("sourceText", json!("a ".repeat(50_001))), "sourceText"),
        (with("language", json!("english please")), "language"),
        (json!({ "topic": "Apollo" }), "sourceText"),
        (with("sourceText", json!("Too short.")), "sourceText"),
    ];
    for (input, field) in cases {
        let r = c.generate_quiz(input).await;
        expect_field(&r, field);
    }
    // Without an LLM, the message says what to do.
    let r = c.generate_quiz(json!({ "topic": "Apollo" })).await;
    assert!(r.message().contains("LLM_BASE_URL"), "{}", r.message());
    // Asking for more than the text can make says how many it can.
    let three_sentences: String = APOLLO_11.split_inclusive(". ").take(3).collect();
    let mut input = with("sourceText", json!(three_sentences));
    input["questionCount"] = json!(20);
    let r = c.generate_quiz(input).await;
    expect_field(&r, "questionCount");
    assert!(r.message().contains("at most"), "{}", r.message());
    // Nothing was stored by any failed attempt.
    let r = c.gql("{ quizzes { totalCount } }", json!({})).await.ok();
    assert_eq!(r.data()["quizzes"]["totalCount"], 0);
    // Page arguments too.
    expect_field(
        &c.gql("{ quizzes(first: 0) { totalCount } }", json!({}))
            .await,
        "first",
    );
    expect_field(
        &c.gql("{ quizzes(first: 101) { totalCount } }", json!({}))
            .await,
        "first",
    );
    expect_field(
        &c.gql("{ quizzes(after: \"garbage\") { totalCount } }", json!({}))
            .await,
        "after",
    );
    expect_field(
        &c.gql(
            "{ quizResults(quizId: \"nope\") { totalCount } }",
            json!({}),
        )
        .await,
        "quizId",
    );
}

async fn answers_are_validated(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("answerer").await;
    let quiz = quiz_from(&c, APOLLO_11, 3, "en").await;
    let id = quiz["id"].as_str().unwrap();
    for answers in [
        vec![(4, 1)],
        vec![(0, 1)],
        vec![(1, 5)],
        vec![(1, 0)],
        vec![(1, 1), (1, 2)],
    ] {
        let r = c.submit(id, &answers).await;
        expect_field(&r, "answers");
    }
    assert_eq!(c.submit("not-an-id", &[]).await.code(), "NOT_FOUND");
    let r = c
        .gql("{ quizResults { totalCount } }", json!({}))
        .await
        .ok();
    assert_eq!(
        r.data()["quizResults"]["totalCount"],
        0,
        "no partial writes"
    );
}

async fn offline_feedback(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, |_| {}).await else {
        return;
    };
    let (c, _) = app.new_user("learner").await;
    let quiz = quiz_from(&c, APOLLO_11, 3, "en").await;
    let id = quiz["id"].as_str().unwrap();
    let key = answer_key(&c, &quiz).await;
    let wrong = if key[1].1 == 1 { 2 } else { 1 };
    let result = c.submit(id, &[key[0], (2, wrong)]).await.ok();
    details_of(&result, 3);
    let result_id = result.data()["submitQuizAnswers"]["id"].as_str().unwrap();
    let r = c
        .gql("query($id: ID!) { quizResult(id: $id) { feedback { summary items { questionNumber feedback } } } }", json!({ "id": result_id }))
        .await
        .ok();
    let f = &r.data()["quizResult"]["feedback"];
    assert!(f["summary"].as_str().unwrap().contains("1 of 3"), "{f}");
    let items = f["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["questionNumber"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    let details = &result.data()["submitQuizAnswers"]["details"];
    let right_answer = details[1]["correctContent"].as_str().unwrap();
    assert!(
        items[0]["feedback"]
            .as_str()
            .unwrap()
            .contains(right_answer)
    );
    assert!(
        items[1]["feedback"]
            .as_str()
            .unwrap()
            .starts_with("Not answered")
    );

    let all_right = c.submit(id, &key).await.ok();
    let r = c
        .gql("query($id: ID!) { quizResult(id: $id) { feedback { summary items { questionNumber } } } }", json!({ "id": all_right.data()["submitQuizAnswers"]["id"] }))
        .await
        .ok();
    assert_eq!(r.data()["quizResult"]["feedback"]["items"], json!([]));
}

/// A page's quizzes come from memory once read; which quizzes it holds still comes from the
/// store, so a quiz deleted through another process is gone from this one's next page.
async fn pages_follow_deletions_by_other_processes(backend: Backend) {
    let Some(a) = TestApp::spawn_shareable(backend, |_| {}).await else {
        return;
    };
    let b = a.spawn_sharing(|_| {}).await;
    let (on_a, _) = a.new_user("two-readers").await;
    let on_b = on_a.on(&b);
    let mut generated = Vec::new();
    for n in 1..=3 {
        generated.push(quiz_from(&on_a, APOLLO_11, n, "en").await);
    }
    generated.reverse();
    let page = |c: &Client, first: i64| {
        let c = c.clone();
        async move {
            c.gql(
                &format!(
                    "query($f: Int) {{ quizzes(first: $f) {{ totalCount pageInfo {{ hasNextPage }} \
                     edges {{ node {{ {} }} }} }} }}",
                    common::QUIZ_FIELDS
                ),
                json!({ "f": first }),
            )
            .await
            .ok()
            .data()["quizzes"]
                .clone()
        }
    };
    let nodes = |page: &Value| -> Vec<Value> {
        page["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    };
    // Twice on each process: read from the store, then from memory; the same quizzes each time.
    for c in [&on_a, &on_b, &on_a, &on_b] {
        assert_eq!(nodes(&page(c, 3).await), generated, "newest first, whole");
    }

    let newest = generated[0]["id"].as_str().unwrap();
    let r = on_b
        .gql(
            "mutation($id: ID!) { deleteQuiz(id: $id) }",
            json!({ "id": newest }),
        )
        .await
        .ok();
    assert_eq!(r.data()["deleteQuiz"], true);
    let after = page(&on_a, 2).await;
    assert_eq!(after["totalCount"], 2);
    assert_eq!(after["pageInfo"]["hasNextPage"], false);
    assert_eq!(nodes(&after), generated[1..].to_vec());
}
