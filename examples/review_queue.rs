//! Whether `reviewQueue` stays flat as a learner's cards pile up: the time of the store read
//! behind it (the due cards of one user, most overdue first, 20 at most) for a user with 200
//! cards and for one with 20,000, every card due.
//!
//! ```sh
//! cargo run --release --example review_queue -- [READS]
//! MONGODB_TEST_URL=mongodb://127.0.0.1:27017 cargo run --release --example review_queue
//! ```
//!
//! Stores: a SQLite file in WAL mode behind the production pool, and MongoDB when
//! `MONGODB_TEST_URL` is set (a fresh database, whose removal is left to the caller).

use std::time::{Duration, Instant};

use chrono::Utc;
use quiz_llm::{
    config::SecretString,
    domain::{
        AnswerType, ChoiceRecord, DesiredRetention, QuestionRecord, QuizId, Rating,
        ReviewCardRecord, UserId,
    },
    store::{self, DatabaseUrl, Store},
};

const SIZES: [u32; 2] = [200, 20_000];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let reads: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(2_000);
    let dir = tempfile::tempdir()?;
    let mut stores = vec![(
        "sqlite (WAL file)",
        DatabaseUrl::Sqlite(Some(dir.path().join("reviews.db"))),
    )];
    if let Ok(base) = std::env::var("MONGODB_TEST_URL") {
        let url = format!(
            "{}/review_queue_{}",
            base.trim_end_matches('/'),
            uuid::Uuid::new_v4().simple()
        );
        stores.push(("mongodb", DatabaseUrl::Mongo(SecretString::from(url))));
    }
    println!("| store | cards of the user | p50 | p99 |");
    println!("| --- | --- | --- | --- |");
    for (name, url) in stores {
        let store = store::connect(&url).await?;
        for size in SIZES {
            let owner = seed(&*store, size).await?;
            let now = Utc::now();
            let mut times = Vec::with_capacity(reads);
            for _ in 0..reads {
                let start = Instant::now();
                let due = store.due_review_cards(&owner, now, 20).await?;
                times.push(start.elapsed());
                assert_eq!(due.len(), 20);
            }
            times.sort();
            let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
            println!(
                "| {name} | {size} | {} | {} |",
                micros(at(0.5)),
                micros(at(0.99))
            );
        }
    }
    Ok(())
}

/// A user with `cards` cards (one quiz of that many questions), all answered wrongly a day ago
/// and so due.
async fn seed(store: &dyn Store, cards: u32) -> anyhow::Result<UserId> {
    let (owner, quiz) = (UserId::new_random(), QuizId::new_random());
    let answered = Utc::now() - chrono::Duration::days(2);
    for number in 1..=cards {
        let question = QuestionRecord {
            number,
            content: format!("Question {number}: which year did Apollo 11 land on the Moon?"),
            answer_type: AnswerType::MultipleChoice,
            choices: (1..=4)
                .map(|n| ChoiceRecord {
                    number: n,
                    content: format!("{}", 1966 + n),
                    correct: n == 3,
                })
                .collect(),
            explanation: Some("The landing took place on July 20, 1969.".into()),
            accepted_answers: Vec::new(),
            source: None,
        };
        let mut card = ReviewCardRecord::new(&owner, &quiz, "Apollo 11", "en", &question, answered);
        let log = card.review(Rating::Again, false, answered, DesiredRetention::DEFAULT);
        store.save_review(&card, &log).await?;
    }
    Ok(owner)
}

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}
