//! Review cards and logs on every store: the same schedule round-trips everywhere, cards are
//! owned, one per question, due in order, and the statistics' reads agree.

use chrono::{DateTime, Duration, Utc};
use quiz_llm::{
    domain::{
        AnswerType, ChoiceRecord, DesiredRetention, QuestionRecord, QuizId, Rating, ReviewCardId,
        ReviewCardRecord, UserId,
    },
    store::day_number,
};

use super::{Backend, open};

on_every_store!(
    the_same_schedule_round_trips_on_every_store,
    review_cards_are_owned_one_per_question_and_due_in_order,
    review_logs_days_and_retention_settings,
);

fn question(number: u32) -> QuestionRecord {
    QuestionRecord {
        number,
        content: format!("Question {number}?"),
        answer_type: AnswerType::MultipleChoice,
        choices: (1..=4)
            .map(|n| ChoiceRecord {
                number: n,
                content: format!("choice {n}"),
                correct: n == 2,
            })
            .collect(),
        explanation: Some("because".into()),
        accepted_answers: Vec::new(),
        source: None,
    }
}

fn card(owner: &UserId, quiz: &QuizId, number: u32, now: DateTime<Utc>) -> ReviewCardRecord {
    ReviewCardRecord::new(owner, quiz, "Apollo", "en", &question(number), now)
}

/// A fixed start, so every store sees the very same numbers.
fn start() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_123).unwrap()
}

async fn the_same_schedule_round_trips_on_every_store(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (owner, quiz) = (UserId::new_random(), QuizId::new_random());
    let mut expected = card(&owner, &quiz, 1, start());
    let mut now = start();
    // Learned, forgotten, relearned; each step read back from the store and reviewed from there.
    let mut stored = expected.clone();
    for (rating, correct) in [
        (Rating::Good, true),
        (Rating::Good, true),
        (Rating::Again, false),
        (Rating::Hard, true),
        (Rating::Easy, true),
    ] {
        let log = stored.review(rating, correct, now, DesiredRetention::DEFAULT);
        expected.review(rating, correct, now, DesiredRetention::DEFAULT);
        s.save_review(&stored, &log).await.unwrap();
        stored = s
            .find_review_card(&owner, &stored.id)
            .await
            .unwrap()
            .expect("the card");
        assert_eq!(stored, expected, "as scheduled, bit for bit");
        now = stored.due;
    }
    assert_eq!((stored.reps, stored.lapses), (5, 1));
    // FSRS-6 with its default parameters, whatever the store: these days apart.
    let days: Vec<i64> = s
        .review_logs_since(&owner, start())
        .await
        .unwrap()
        .iter()
        .map(|l| i64::from(l.scheduled_days))
        .collect();
    assert_eq!(days.len(), 5);
    assert!(days[2] < days[1], "a lapse comes back sooner: {days:?}");
    assert!(days[1] > days[0] && days[4] > days[3], "{days:?}");
}

async fn review_cards_are_owned_one_per_question_and_due_in_order(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (alice, bob, quiz) = (
        UserId::new_random(),
        UserId::new_random(),
        QuizId::new_random(),
    );
    let now = start();
    for (number, offset_days) in [(1, 3), (2, 1), (3, 2)] {
        let mut c = card(&alice, &quiz, number, now - Duration::days(10));
        let log = c.review(
            Rating::Again,
            false,
            now - Duration::days(10),
            DesiredRetention::DEFAULT,
        );
        c.due = now - Duration::days(offset_days);
        s.save_review(&c, &log).await.unwrap();
    }
    let mut later = card(&alice, &quiz, 4, now);
    let log = later.review(Rating::Good, true, now, DesiredRetention::DEFAULT);
    s.save_review(&later, &log).await.unwrap();

    let due = s.due_review_cards(&alice, now, 10).await.unwrap();
    let numbers: Vec<u32> = due.iter().map(|c| c.question.number).collect();
    assert_eq!(
        numbers,
        [1, 3, 2],
        "most overdue first, not yet due left out"
    );
    assert_eq!(s.due_review_cards(&alice, now, 2).await.unwrap().len(), 2);
    assert_eq!(s.count_due_review_cards(&alice, now).await.unwrap(), 3);
    assert_eq!(
        s.count_due_review_cards(&alice, later.due).await.unwrap(),
        4
    );
    assert_eq!(s.due_review_cards(&bob, now, 10).await.unwrap(), vec![]);
    assert_eq!(s.count_due_review_cards(&bob, later.due).await.unwrap(), 0);

    // Another user reads nothing and deletes nothing.
    let first = due[0].clone();
    assert_eq!(s.find_review_card(&bob, &first.id).await.unwrap(), None);
    assert!(!s.delete_review_card(&bob, &first.id).await.unwrap());
    assert_eq!(
        s.find_review_cards_of_quiz(&bob, &quiz).await.unwrap(),
        vec![]
    );
    assert_eq!(
        s.find_review_cards_of_quiz(&alice, &quiz)
            .await
            .unwrap()
            .len(),
        4
    );

    // One card per question: a second new card for it is refused, and the first stays as it was.
    let logged = s
        .review_logs_since(&alice, DateTime::UNIX_EPOCH)
        .await
        .unwrap()
        .len();
    let mut again = card(&alice, &quiz, 1, now);
    let log = again.review(Rating::Good, true, now, DesiredRetention::DEFAULT);
    assert!(!s.save_review(&again, &log).await.unwrap());
    let stored = s
        .find_review_card(&alice, &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, first);

    // A review of the card as it was read is written; another made from the same read (a
    // review that raced it) is refused, log and all, so the caller reads the card again.
    let mut read = stored.clone();
    let log = read.review(Rating::Good, true, now, DesiredRetention::DEFAULT);
    assert!(s.save_review(&read, &log).await.unwrap());
    let mut stale = stored.clone();
    let log = stale.review(Rating::Again, false, now, DesiredRetention::DEFAULT);
    assert!(!s.save_review(&stale, &log).await.unwrap());
    let moved = s
        .find_review_card(&alice, &first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved, read);
    assert_eq!(
        s.review_logs_since(&alice, DateTime::UNIX_EPOCH)
            .await
            .unwrap()
            .len(),
        logged + 1
    );

    assert!(s.delete_review_card(&alice, &first.id).await.unwrap());
    assert!(!s.delete_review_card(&alice, &first.id).await.unwrap());
    assert_eq!(s.find_review_card(&alice, &first.id).await.unwrap(), None);
    assert_eq!(
        s.find_review_card(&alice, &ReviewCardId::new_random())
            .await
            .unwrap(),
        None
    );
}

async fn review_logs_days_and_retention_settings(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (alice, bob, quiz) = (
        UserId::new_random(),
        UserId::new_random(),
        QuizId::new_random(),
    );
    let now = start();
    for (number, days_ago) in [(1, 0), (2, 0), (3, 1), (4, 5)] {
        let at = now - Duration::days(days_ago);
        let mut c = card(&alice, &quiz, number, at);
        let log = c.review(Rating::Good, true, at, DesiredRetention::DEFAULT);
        s.save_review(&c, &log).await.unwrap();
    }
    let logs = s
        .review_logs_since(&alice, now - Duration::days(1))
        .await
        .unwrap();
    assert_eq!(logs.len(), 3);
    assert!(
        logs.windows(2)
            .all(|w| w[0].reviewed_at <= w[1].reviewed_at),
        "oldest first"
    );
    assert!(logs.iter().all(|l| l.owner == alice));
    let today = day_number(now);
    assert_eq!(
        s.review_days(&alice, today - 30).await.unwrap(),
        [today, today - 1, today - 5]
    );
    assert_eq!(
        s.review_days(&alice, today - 1).await.unwrap(),
        [today, today - 1]
    );
    assert_eq!(
        s.review_days(&bob, today - 30).await.unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(
        s.review_logs_since(&bob, now - Duration::days(30))
            .await
            .unwrap(),
        vec![]
    );

    assert_eq!(s.desired_retention(&alice).await.unwrap(), None);
    s.set_desired_retention(&alice, 0.85).await.unwrap();
    s.set_desired_retention(&alice, 0.95).await.unwrap();
    assert_eq!(s.desired_retention(&alice).await.unwrap(), Some(0.95));
    assert_eq!(s.desired_retention(&bob).await.unwrap(), None);
}
