//! The learning loop over HTTP: answered questions become review cards that fall due, lapse and
//! recover as the application's clock moves on by days; cards are private, outlive their quiz,
//! follow a guest who signs up, and bad input is refused with its field.

use crate::common;

use std::time::Duration;

use common::{APOLLO_11, Backend, Client, PASSWORD, TestApp};
use serde_json::{Value, json};

use crate::guests::{UPGRADE, guest, sign_up_input};
use crate::quizzes::offline::{answer_key, quiz_from};

on_every_store!(
    missed_questions_fall_due_lapse_and_recover,
    cards_are_private_and_input_is_checked,
    deleting_a_quiz_keeps_its_cards,
    desired_retention_moves_the_schedule,
    guests_keep_their_cards_when_they_sign_up,
    racing_reviews_of_one_card_all_count,
    answer_times_read_as_hard_or_easy,
    typed_answers_come_back_with_their_passage,
);

const CARD: &str = "id quizTitle due lapses reps question { number content answerType choices { number content } }";

fn day() -> Duration {
    Duration::from_secs(24 * 60 * 60)
}

/// An app whose sessions last the days the tests move through (a learner would log in daily).
async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn(backend, |c| {
        c.auth.refresh_token_ttl = day() * 30;
        c.auth.session_idle_timeout = day() * 30;
    })
    .await
}

/// Moves the application's clock on by `days` and refreshes the (long expired) access token.
async fn days_pass(app: &TestApp, c: &Client, days: u32) {
    app.clock.advance(day() * days);
    c.refresh().await.ok();
}

async fn queue(c: &Client) -> Vec<Value> {
    let r = c
        .gql(&format!("{{ reviewQueue {{ {CARD} }} }}"), json!({}))
        .await
        .ok();
    r.data()["reviewQueue"].as_array().unwrap().clone()
}

/// The question numbers of the due cards, in queue order.
async fn due_numbers(c: &Client) -> Vec<i64> {
    queue(c)
        .await
        .iter()
        .map(|card| card["question"]["number"].as_i64().unwrap())
        .collect()
}

async fn review(c: &Client, card: &str, answer: Value) -> common::Gql {
    c.gql(
        &format!(
            "mutation($c: ID!, $a: ReviewAnswerInput!) {{ submitReview(cardId: $c, answer: $a) \
             {{ correct correctAnswer explanation nextDue card {{ {CARD} }} }} }}"
        ),
        json!({ "c": card, "a": answer }),
    )
    .await
}

const STATS: &str =
    "{ learningStats { dueNow dueToday reviewedToday retention streakDays desiredRetention } }";

/// A quiz of four questions, and its answer key.
async fn quiz_and_key(c: &Client) -> (Value, Vec<(i64, i64)>) {
    let quiz = quiz_from(c, APOLLO_11, 4, "en").await;
    let key = answer_key(c, &quiz).await;
    (quiz, key)
}

fn wrong(choice: i64) -> i64 {
    choice % 4 + 1
}

/// The card of question `number` in `cards`.
fn card_of(cards: &[Value], number: i64) -> Value {
    cards
        .iter()
        .find(|c| c["question"]["number"] == number)
        .unwrap_or_else(|| panic!("no card for question {number} in {cards:?}"))
        .clone()
}

async fn missed_questions_fall_due_lapse_and_recover(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (c, _) = app.new_user("learner").await;
    let (quiz, key) = quiz_and_key(&c).await;
    // Submitting nothing (for the key) made no cards: only answered questions become cards.
    assert_eq!(due_numbers(&c).await, Vec::<i64>::new());
    let answers = [key[0], key[1], (3, wrong(key[2].1)), (4, wrong(key[3].1))];
    c.submit(quiz["id"].as_str().unwrap(), &answers).await.ok();
    assert_eq!(due_numbers(&c).await, Vec::<i64>::new(), "nothing due yet");
    let stats = c.gql(STATS, json!({})).await.ok();
    assert_eq!(stats.data()["learningStats"]["reviewedToday"], 4);
    assert_eq!(stats.data()["learningStats"]["dueToday"], 0);

    // The next day, the two misses are due; the answers stay hidden.
    days_pass(&app, &c, 1).await;
    let cards = queue(&c).await;
    let mut numbers: Vec<i64> = cards
        .iter()
        .map(|c| c["question"]["number"].as_i64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, [3, 4]);
    let questions = quiz["questions"].as_array().unwrap();
    for card in &cards {
        let n = card["question"]["number"].as_i64().unwrap() as usize;
        assert_eq!(card["question"], questions[n - 1]);
        assert_eq!(card["quizTitle"], quiz["title"]);
        assert_eq!(
            (card["reps"].as_i64(), card["lapses"].as_i64()),
            (Some(1), Some(0))
        );
    }
    let stats = c.gql(STATS, json!({})).await.ok();
    assert_eq!(stats.data()["learningStats"]["dueNow"], 2);

    // One right, one wrong: their schedules move apart.
    let (three, four) = (card_of(&cards, 3), card_of(&cards, 4));
    let right = review(
        &c,
        three["id"].as_str().unwrap(),
        json!({ "choiceNumber": key[2].1 }),
    )
    .await
    .ok();
    let right = &right.data()["submitReview"];
    assert_eq!(right["correct"], true);
    let missed = review(
        &c,
        four["id"].as_str().unwrap(),
        json!({ "choiceNumber": wrong(key[3].1) }),
    )
    .await
    .ok();
    let missed = &missed.data()["submitReview"];
    assert_eq!(missed["correct"], false);
    let correct_content = &questions[3]["choices"][(key[3].1 - 1) as usize]["content"];
    assert_eq!(&missed["correctAnswer"], correct_content);
    assert_eq!(
        (
            missed["card"]["reps"].as_i64(),
            missed["card"]["lapses"].as_i64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(
        (
            right["card"]["reps"].as_i64(),
            right["card"]["lapses"].as_i64()
        ),
        (Some(2), Some(0))
    );
    let due =
        |v: &Value| chrono::DateTime::parse_from_rfc3339(v["nextDue"].as_str().unwrap()).unwrap();
    assert!(due(right) > due(missed), "{right} {missed}");
    assert_eq!(right["card"]["due"], right["nextDue"]);

    // A day on, the lapsed card is back (with the two first answered right), the other is not.
    days_pass(&app, &c, 1).await;
    let mut numbers = due_numbers(&c).await;
    numbers.sort();
    assert_eq!(numbers, [1, 2, 4]);
    // Recovered: answered right, it goes further out than a day.
    let back = review(
        &c,
        four["id"].as_str().unwrap(),
        json!({ "choiceNumber": key[3].1 }),
    )
    .await
    .ok();
    let back = &back.data()["submitReview"];
    assert_eq!(back["card"]["reps"], 3);
    assert_eq!(back["card"]["lapses"], 1);
    assert!(!due_numbers(&c).await.contains(&4));

    let stats = c.gql(STATS, json!({})).await.ok();
    let stats = &stats.data()["learningStats"];
    assert_eq!(stats["reviewedToday"], 1);
    assert_eq!(stats["dueNow"], 2);
    assert_eq!(stats["streakDays"], 3);
    // Three reviews of cards already seen, two of them right.
    let retention = stats["retention"].as_f64().unwrap();
    assert!((retention - 2.0 / 3.0).abs() < 1e-9, "{retention}");
    assert_eq!(stats["desiredRetention"], 0.9);
}

async fn cards_are_private_and_input_is_checked(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (alice, _) = app.new_user("alice").await;
    let (mallory, _) = app.new_user("mallory").await;
    let (quiz, key) = quiz_and_key(&alice).await;
    alice
        .submit(quiz["id"].as_str().unwrap(), &[(1, wrong(key[0].1))])
        .await
        .ok();
    days_pass(&app, &alice, 1).await;
    mallory.refresh().await.ok();
    let cards = queue(&alice).await;
    assert_eq!(cards.len(), 1);
    let id = cards[0]["id"].as_str().unwrap();

    // From the other account, the card does not exist.
    assert_eq!(queue(&mallory).await, Vec::<Value>::new());
    let r = review(&mallory, id, json!({ "choiceNumber": key[0].1 })).await;
    assert_eq!(r.code(), "NOT_FOUND");
    let r = mallory
        .gql(
            "mutation($i: ID!) { deleteReviewCard(id: $i) }",
            json!({ "i": id }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert_eq!(queue(&alice).await.len(), 1);
    assert_eq!(queue(&alice).await[0]["reps"], 1, "untouched");

    for (answer, field) in [
        (json!({ "choiceNumber": 99 }), "choiceNumber"),
        (json!({}), "choiceNumber"),
        (json!({ "choiceNumber": key[0].1, "text": "x" }), "text"),
    ] {
        let r = review(&alice, id, answer).await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some(field)));
    }
    assert_eq!(
        queue(&alice).await[0]["reps"],
        1,
        "a refused answer changes nothing"
    );
    let r = review(&alice, "not-an-id", json!({ "choiceNumber": 1 })).await;
    assert_eq!(r.code(), "NOT_FOUND");
    for first in [0, 101] {
        let r = alice
            .gql(
                "query($f: Int!) { reviewQueue(first: $f) { id } }",
                json!({ "f": first }),
            )
            .await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("first")));
    }
    for value in [0.69, 0.98] {
        let r = alice
            .gql(
                "mutation($v: Float!) { setDesiredRetention(value: $v) { desiredRetention } }",
                json!({ "v": value }),
            )
            .await;
        assert_eq!((r.code(), r.field()), ("BAD_USER_INPUT", Some("value")));
    }
    // Not logged in: nothing.
    let r = app.client().gql("{ reviewQueue { id } }", json!({})).await;
    assert_eq!(r.code(), "UNAUTHENTICATED");
}

async fn deleting_a_quiz_keeps_its_cards(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (c, _) = app.new_user("keeper").await;
    let (quiz, key) = quiz_and_key(&c).await;
    let quiz_id = quiz["id"].as_str().unwrap();
    c.submit(quiz_id, &[(1, wrong(key[0].1)), (2, wrong(key[1].1))])
        .await
        .ok();
    c.gql(
        "mutation($i: ID!) { deleteQuiz(id: $i) }",
        json!({ "i": quiz_id }),
    )
    .await
    .ok();
    days_pass(&app, &c, 1).await;
    let cards = queue(&c).await;
    assert_eq!(cards.len(), 2, "the cards outlive their quiz");
    let id = cards[0]["id"].as_str().unwrap();
    let answer = key[cards[0]["question"]["number"].as_i64().unwrap() as usize - 1].1;
    let r = review(&c, id, json!({ "choiceNumber": answer })).await.ok();
    assert_eq!(r.data()["submitReview"]["correct"], true);

    let delete = "mutation($i: ID!) { deleteReviewCard(id: $i) }";
    let other = cards[1]["id"].as_str().unwrap();
    let r = c.gql(delete, json!({ "i": other })).await.ok();
    assert_eq!(r.data()["deleteReviewCard"], true);
    assert_eq!(queue(&c).await, Vec::<Value>::new());
    assert_eq!(
        c.gql(delete, json!({ "i": other })).await.code(),
        "NOT_FOUND"
    );
}

async fn desired_retention_moves_the_schedule(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let set = "mutation($v: Float!) { setDesiredRetention(value: $v) { desiredRetention dueNow } }";
    let mut due_tomorrow = Vec::new();
    for (name, retention) in [("keen", 0.97), ("relaxed", 0.7)] {
        let (c, _) = app.new_user(name).await;
        let r = c.gql(set, json!({ "v": retention })).await.ok();
        assert_eq!(
            r.data()["setDesiredRetention"]["desiredRetention"],
            retention
        );
        let (quiz, key) = quiz_and_key(&c).await;
        c.submit(quiz["id"].as_str().unwrap(), &key[..1]).await.ok();
        due_tomorrow.push((c, name));
    }
    days_pass(&app, &due_tomorrow[0].0, 1).await;
    due_tomorrow[1].0.refresh().await.ok();
    // A right answer comes back after a day when 97 % is aimed for, much later at 70 %.
    assert_eq!(due_numbers(&due_tomorrow[0].0).await, [1]);
    assert_eq!(due_numbers(&due_tomorrow[1].0).await, Vec::<i64>::new());
    let stats = due_tomorrow[1].0.gql(STATS, json!({})).await.ok();
    assert_eq!(stats.data()["learningStats"]["desiredRetention"], 0.7);
}

async fn guests_keep_their_cards_when_they_sign_up(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (c, id) = guest(&app).await;
    let (quiz, key) = quiz_and_key(&c).await;
    c.submit(quiz["id"].as_str().unwrap(), &[(2, wrong(key[1].1))])
        .await
        .ok();
    let r = c
        .gql(
            UPGRADE,
            sign_up_input("grace", "grace@example.com", PASSWORD),
        )
        .await
        .ok();
    assert_eq!(r.data()["upgradeGuest"]["user"]["id"], id.as_str());
    // Signed up, the address confirmed: logged in as the same user.
    let link = app.verification_link("grace@example.com");
    c.verify_email(&link.uid, &link.token).await.ok();
    days_pass(&app, &c, 1).await;
    assert_eq!(due_numbers(&c).await, [2]);
}

/// The card of question 1 missed yesterday and due now, with the quiz's answer key.
async fn one_due_card(app: &TestApp, c: &Client) -> (Value, Vec<(i64, i64)>) {
    let (quiz, key) = quiz_and_key(c).await;
    c.submit(quiz["id"].as_str().unwrap(), &[(1, wrong(key[0].1))])
        .await
        .ok();
    days_pass(app, c, 1).await;
    (card_of(&queue(c).await, 1), key)
}

async fn racing_reviews_of_one_card_all_count(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (c, _) = app.new_user("racer").await;
    let (card, key) = one_due_card(&app, &c).await;
    let id = card["id"].as_str().unwrap();
    const RACERS: usize = 8;
    let reviews = (0..RACERS).map(|_| review(&c, id, json!({ "choiceNumber": key[0].1 })));
    for r in futures_util::future::join_all(reviews).await {
        r.ok();
    }
    // Every review moved the card on from where the one before left it: none was lost, and
    // each wrote its log once.
    let stats = c.gql(STATS, json!({})).await.ok();
    assert_eq!(
        stats.data()["learningStats"]["reviewedToday"],
        RACERS as i64
    );
    let r = review(&c, id, json!({ "choiceNumber": key[0].1 }))
        .await
        .ok();
    assert_eq!(
        r.data()["submitReview"]["card"]["reps"],
        1 + RACERS as i64 + 1,
        "the quiz answer, the racing reviews and this one"
    );
}

async fn answer_times_read_as_hard_or_easy(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (c, _) = app.new_user("timer").await;
    let (quiz, key) = quiz_and_key(&c).await;
    let misses: Vec<(i64, i64)> = key[..3].iter().map(|(q, a)| (*q, wrong(*a))).collect();
    c.submit(quiz["id"].as_str().unwrap(), &misses).await.ok();
    days_pass(&app, &c, 1).await;
    let cards = queue(&c).await;
    let ids: Vec<String> = (1..=3)
        .map(|n| card_of(&cards, n)["id"].as_str().unwrap().to_owned())
        .collect();
    // The first right answer to each takes ten seconds: the card's usual time, rated GOOD.
    let mut due = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let answer = json!({ "choiceNumber": key[i].1, "timeTakenMs": 10_000 });
        let r = review(&c, id, answer).await.ok();
        let at = r.data()["submitReview"]["nextDue"]
            .as_str()
            .unwrap()
            .to_owned();
        due.push(at[..10].to_owned());
    }
    assert!(
        due.windows(2).all(|w| w[0] == w[1]),
        "one day for all: {due:?}"
    );

    // When they are due again: a quick answer is EASY, a usual one GOOD, a slow one HARD.
    days_pass(&app, &c, 25).await;
    let mut next = Vec::new();
    for (i, (id, ms)) in ids.iter().zip([3_000, 10_000, 30_000]).enumerate() {
        let answer = json!({ "choiceNumber": key[i].1, "timeTakenMs": ms });
        let r = review(&c, id, answer).await.ok();
        let at = r.data()["submitReview"]["nextDue"]
            .as_str()
            .unwrap()
            .to_owned();
        next.push(chrono::DateTime::parse_from_rfc3339(&at).unwrap());
    }
    assert!(
        next[0] > next[1] && next[1] > next[2],
        "easy after good after hard: {next:?}"
    );
    // An explicit rating wins over the time.
    let r = review(
        &c,
        &ids[0],
        json!({ "choiceNumber": key[0].1, "timeTakenMs": 1, "rating": "HARD" }),
    )
    .await
    .ok();
    assert!(r.data()["submitReview"]["correct"].as_bool().unwrap());

    for ms in [-1, 3_600_001] {
        let answer = json!({ "choiceNumber": key[0].1, "timeTakenMs": ms });
        let r = review(&c, &ids[0], answer).await;
        assert_eq!(
            (r.code(), r.field()),
            ("BAD_USER_INPUT", Some("timeTakenMs"))
        );
    }
}

async fn typed_answers_come_back_with_their_passage(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (c, _) = app.new_user("typist").await;
    let quiz = c
        .generate_quiz(json!({
            "topic": "Apollo", "sourceText": APOLLO_11, "questionCount": 2,
            "answerType": "SHORT_ANSWER",
        }))
        .await
        .ok()
        .data()["generateQuiz"]
        .clone();
    let quiz_id = quiz["id"].as_str().unwrap();
    let answers = json!([
        { "questionNumber": 1, "text": "not the answer at all" },
        { "questionNumber": 2, "text": "nor this" },
    ]);
    c.gql(
        "mutation($q: ID!, $a: [AnswerInput!]!) { submitQuizAnswers(quizId: $q, answers: $a) { correctCount } }",
        json!({ "q": quiz_id, "a": answers }),
    )
    .await
    .ok();
    days_pass(&app, &c, 1).await;
    let cards = queue(&c).await;
    assert_eq!(cards.len(), 2);
    let card = card_of(&cards, 1);
    assert_eq!(card["question"]["answerType"], "SHORT_ANSWER");
    assert_eq!(
        card["question"]["choices"],
        json!([]),
        "no choices, no answer"
    );

    // A choice for a typed question is refused; the typed answer, shouted, is right.
    let id = card["id"].as_str().unwrap();
    let r = review(&c, id, json!({ "choiceNumber": 1 })).await;
    assert_eq!(
        (r.code(), r.field()),
        ("BAD_USER_INPUT", Some("choiceNumber"))
    );
    let r = c
        .gql(
            "mutation($c: ID!, $a: ReviewAnswerInput!) { submitReview(cardId: $c, answer: $a) \
             { correct correctAnswer gradingNote source { excerpt start end } } }",
            json!({ "c": id, "a": { "text": "x" } }),
        )
        .await
        .ok();
    let outcome = &r.data()["submitReview"];
    assert_eq!(outcome["correct"], false);
    let answer = outcome["correctAnswer"].as_str().unwrap().to_owned();
    let excerpt = outcome["source"]["excerpt"].as_str().unwrap();
    assert!(excerpt.contains(&answer), "{excerpt:?} holds {answer:?}");
    assert_eq!(outcome["gradingNote"], Value::Null);
    let r = c
        .gql(
            "mutation($c: ID!, $a: ReviewAnswerInput!) { submitReview(cardId: $c, answer: $a) { correct } }",
            json!({ "c": id, "a": { "text": format!("  {}! ", answer.to_uppercase()) } }),
        )
        .await
        .ok();
    assert_eq!(r.data()["submitReview"]["correct"], true);
}
