//! Erasing an account leaves nothing of it in any table or collection: the test gives two
//! accounts one of everything the stores keep, erases one, and reads every row and document
//! there is, bypassing the store, for the erased account's id and address.

use std::collections::BTreeSet;

use chrono::Duration;
use quiz_llm::{
    config::ExposeSecret,
    domain::{
        DesiredRetention, GenerationJobRecord, JobInput, MaterialQuota, MfaChallenge,
        PasskeyCeremony, QuizEventKind, QuizEventRecord, Rating, ReviewCardRecord, SealedSecret,
        UserRecord,
    },
    store::{self, DatabaseUrl, Store, StoreFixtures},
};

use super::{
    Backend, mail, passkey, passkey_challenge, quiz, reachable_behind_the_store, result_of,
    session, user,
};

on_every_store!(
    an_erased_account_leaves_nothing_anywhere,
    an_erasure_cut_short_is_finished_later,
);

/// One of everything a store keeps for an account (and for its address).
async fn give_everything(s: &dyn Store, u: &UserRecord, tag: &str) {
    let now = crate::common::now();
    let address = super::email_norm(u).to_owned();
    s.insert_user(u).await.unwrap();
    assert!(s.activate_user(&u.id).await.unwrap());
    s.add_session(&u.id, &session(0)).await.unwrap();
    let secret = SealedSecret(format!("totp-{tag}"));
    s.set_pending_totp(&u.id, &secret).await.unwrap();
    assert!(
        s.enable_totp(&u.id, &secret, 1, &[format!("code-{tag}")])
            .await
            .unwrap()
    );
    s.set_mfa_challenge(
        &u.id,
        &MfaChallenge {
            token_hash: format!("mfa-{tag}"),
            expires_at: now + Duration::minutes(5),
        },
    )
    .await
    .unwrap();
    assert!(
        s.insert_passkey(&passkey(&u.id, &format!("cred-{tag}"), 0))
            .await
            .unwrap()
    );
    s.insert_passkey_challenge(&passkey_challenge(
        PasskeyCeremony::Registration,
        Some(u.id.clone()),
        Duration::minutes(5),
    ))
    .await
    .unwrap();
    assert!(
        s.insert_social_link(&super::social::link(&u.id, "corp", &format!("sub-{tag}")))
            .await
            .unwrap()
    );
    s.insert_social_login(&super::social::login(
        &format!("state-{tag}"),
        Some(u.id.clone()),
        Duration::minutes(10),
    ))
    .await
    .unwrap();
    s.put_sign_in_request(&super::sign_in::request(
        &address,
        Some(u.id.clone()),
        Duration::minutes(10),
    ))
    .await
    .unwrap();
    assert!(
        s.take_stream_lease(
            &u.id,
            &format!("lease-{tag}"),
            3,
            now,
            now + Duration::minutes(1)
        )
        .await
        .unwrap()
    );
    let q = quiz(&u.id, 0);
    s.insert_quiz(&q).await.unwrap();
    let r = result_of(&q, 0);
    s.insert_result(&r).await.unwrap();
    s.insert_event(&QuizEventRecord::new(
        u.id.clone(),
        QuizEventKind::ResultSubmitted,
        q.id.clone(),
        Some(r.id.clone()),
        now,
    ))
    .await
    .unwrap();
    let job_input = JobInput {
        topic: "t".into(),
        source_text: None,
        question_count: 1,
        choice_count: 2,
        difficulty: quiz_llm::domain::Difficulty::Easy,
        language: "en".into(),
        origin: Default::default(),
        answer_type: None,
    };
    let job = GenerationJobRecord::queued(u.id.clone(), job_input, now);
    assert!(s.insert_job(&job, 3).await.unwrap());
    let mut card = ReviewCardRecord::new(&u.id, &q.id, &q.title, "en", &q.questions[0], now);
    let log = card.review(Rating::Again, false, now, DesiredRetention::DEFAULT);
    s.save_review(&card, &log).await.unwrap();
    s.set_desired_retention(&u.id, 0.8).await.unwrap();
    let quota = MaterialQuota {
        max_count: 10,
        max_chars: 100_000,
    };
    assert!(
        s.insert_material(&super::materials::material(&u.id, "study text", 0), quota)
            .await
            .unwrap()
    );
    let letter = quiz_llm::domain::OutboxRecord {
        to: format!("{} <{address}>", u.username.as_str()),
        ..mail(0)
    };
    s.enqueue_mail(&letter).await.unwrap();
    // An address change waiting for its confirmation, mailed to the new address.
    let moving_to = format!("{tag}-new@elsewhere.example");
    s.put_email_change(&super::email_changes::change(&u.id, &moving_to))
        .await
        .unwrap();
    let confirmation = quiz_llm::domain::OutboxRecord {
        to: format!("{} <{moving_to}>", u.username.as_str()),
        ..mail(0)
    };
    s.enqueue_mail(&confirmation).await.unwrap();
}

/// What the erased account is found by: its id, its address and the address it was moving to.
fn keys_of(u: &UserRecord, tag: &str) -> [String; 3] {
    [
        u.id.to_string(),
        super::email_norm(u).to_owned(),
        format!("{tag}-new@elsewhere.example"),
    ]
}

/// Every table or collection that holds `needle` anywhere in a row or document.
async fn holders_of(raw: &Raw, needles: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (table, row) in raw.every_row().await {
        let row = row.to_lowercase();
        if needles.iter().any(|n| row.contains(&n.to_lowercase())) {
            found.insert(table);
        }
    }
    found
}

enum Raw {
    Sqlite(std::path::PathBuf),
    Mongo(::mongodb::Database),
}

impl Raw {
    async fn open(url: &DatabaseUrl, path: &std::path::Path) -> Raw {
        match url {
            DatabaseUrl::Sqlite(_) => Raw::Sqlite(path.to_owned()),
            DatabaseUrl::Mongo(url) => Raw::Mongo(
                ::mongodb::Client::with_uri_str(url.expose_secret())
                    .await
                    .unwrap()
                    .default_database()
                    .unwrap(),
            ),
        }
    }

    /// Every row of every table (or document of every collection), as text, with its table.
    async fn every_row(&self) -> Vec<(String, String)> {
        use futures_util::TryStreamExt;
        let mut rows = Vec::new();
        match self {
            Raw::Sqlite(path) => {
                let c = rusqlite::Connection::open(path).unwrap();
                let tables: Vec<String> = c
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                for table in tables {
                    let mut select = c.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
                    let columns = select.column_count();
                    let mut cursor = select.query([]).unwrap();
                    while let Some(row) = cursor.next().unwrap() {
                        let text = (0..columns)
                            .map(|i| match row.get_ref(i).unwrap() {
                                rusqlite::types::ValueRef::Text(t)
                                | rusqlite::types::ValueRef::Blob(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                other => format!("{other:?}"),
                            })
                            .collect::<Vec<_>>()
                            .join("\u{1f}");
                        rows.push((table.clone(), text));
                    }
                }
            }
            Raw::Mongo(db) => {
                for name in db.list_collection_names().await.unwrap() {
                    let docs: Vec<::mongodb::bson::Document> = db
                        .collection(&name)
                        .find(::mongodb::bson::doc! {})
                        .await
                        .unwrap()
                        .try_collect()
                        .await
                        .unwrap();
                    rows.extend(docs.into_iter().map(|d| (name.clone(), d.to_string())));
                }
            }
        }
        rows
    }
}

async fn an_erased_account_leaves_nothing_anywhere(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiz.db");
    let Some((url, _guard)) = reachable_behind_the_store(backend, &path) else {
        return;
    };
    let s = store::connect(&url).await.unwrap();
    let (leaving, staying) = (user("leaving"), user("staying"));
    give_everything(s.as_ref(), &leaving, "l").await;
    give_everything(s.as_ref(), &staying, "s").await;
    let raw = Raw::open(&url, &path).await;
    let (leaving_keys, staying_keys) = (keys_of(&leaving, "l"), keys_of(&staying, "s"));
    let before = holders_of(&raw, &leaving_keys).await;
    // The walk sees the account wherever the stores keep something of it.
    assert!(
        before.len() >= 12,
        "the account is in only {before:?}: the walk misses something"
    );
    let staying_before = holders_of(&raw, &staying_keys).await;
    assert_eq!(before, staying_before);

    assert!(s.delete_user(&leaving.id).await.unwrap());
    assert_eq!(
        holders_of(&raw, &leaving_keys).await,
        BTreeSet::new(),
        "something of the erased account is left"
    );
    assert_eq!(s.find_user(&leaving.id).await.unwrap(), None);
    assert_eq!(
        s.find_user_by_email(super::email_norm(&leaving))
            .await
            .unwrap(),
        None
    );
    // The other account keeps everything.
    assert_eq!(holders_of(&raw, &staying_keys).await, staying_before);
    assert!(s.find_user(&staying.id).await.unwrap().is_some());
    assert_eq!(s.count_mail().await.unwrap(), 2);
    // Once only.
    assert!(!s.delete_user(&leaving.id).await.unwrap());
    assert_eq!(s.finish_account_erasures().await.unwrap(), 0);
}

/// MongoDB erases in several writes: a stop after the first (the record of the erasure) leaves
/// an account that the next round of housekeeping erases. SQLite has nothing to finish.
async fn an_erasure_cut_short_is_finished_later(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiz.db");
    let Some((url, _guard)) = reachable_behind_the_store(backend, &path) else {
        return;
    };
    let s = store::connect(&url).await.unwrap();
    let leaving = user("halfway");
    give_everything(s.as_ref(), &leaving, "h").await;
    let raw = Raw::open(&url, &path).await;
    let Raw::Mongo(db) = &raw else {
        assert_eq!(s.finish_account_erasures().await.unwrap(), 0);
        return;
    };
    // What the first write leaves when the process stops right after it.
    db.collection::<::mongodb::bson::Document>("account_erasures")
        .insert_one(::mongodb::bson::doc! {
            "_id": leaving.id.as_str(),
            "email_norm": super::email_norm(&leaving),
            "pending_email_norm": "h-new@elsewhere.example",
        })
        .await
        .unwrap();
    assert_eq!(s.finish_account_erasures().await.unwrap(), 1);
    assert_eq!(
        holders_of(&raw, &keys_of(&leaving, "h")).await,
        BTreeSet::new()
    );
    assert_eq!(s.finish_account_erasures().await.unwrap(), 0);
}
