//! One contract, every store: each operation behaves the same on SQLite (in memory, and in a
//! file behind the production pool) and on MongoDB (when `MONGODB_TEST_URL` is set).

use crate::common;

use std::sync::Arc;

use ::mongodb::bson::Document;
use quiz_llm::config::ExposeSecret;

use chrono::Duration;
use common::{Backend, database_for};
use quiz_llm::domain::identity::{EmailAddress, Username, username_skeleton};
use quiz_llm::{
    domain::{
        AnswerRecord, AnswerType, ChoiceRecord, Credentials, Difficulty, FeedbackRecord, Locale,
        MAX_SESSIONS_PER_USER, MailId, MfaChallenge, MfaRecord, OutboxRecord, PageAfter,
        PasskeyCeremony, PasskeyChallengeId, PasskeyChallengeRecord, PasskeyId, PasskeyRecord,
        PasswordHash, QuestionFeedbackRecord, QuestionRecord, QuizId, QuizKey, QuizRecord,
        QuizResultRecord, QuizSource, RefreshToken, ResultId, SealedSecret, SessionId,
        SessionRecord, SignInMethod, SourcePassageRecord, UserId, UserRecord, WindowCount,
    },
    store::{self, SessionRotation, Store, StoreFixtures, UniqueField, UserStore, WindowHits},
};

/// Keeps the temporary directory or Mongo database alive for the test.
struct Fixture {
    store: Arc<dyn Store>,
    _guard: common::DbGuard,
}

/// The store as production opens it: the default options (for a file, the default pool).
async fn open(backend: Backend) -> Option<Fixture> {
    let (url, guard) = database_for(backend)?;
    Some(Fixture {
        store: store::connect(&url).await.expect("connect"),
        _guard: guard,
    })
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: UserId::new_random(),
        username: Username::from_stored(name.to_owned()),
        username_norm: name.to_lowercase(),
        credentials: Some(Credentials {
            email: EmailAddress::from_stored(format!("{name}@Example.com")),
            email_norm: format!("{name}@example.com").to_lowercase(),
            password_hash: PasswordHash::new("$argon2id$fake".into()),
        }),
        is_active: false,
        created_at: common::now(),
        locale: Locale::En,
        disabled: false,
    }
}

fn email_norm(u: &UserRecord) -> &str {
    &u.credentials.as_ref().expect("a signed-up user").email_norm
}

fn with_email_norm(mut u: UserRecord, key: &str) -> UserRecord {
    u.credentials.as_mut().expect("a signed-up user").email_norm = key.to_owned();
    u
}

fn session(offset_ms: i64) -> SessionRecord {
    let now = common::now() + Duration::milliseconds(offset_ms);
    SessionRecord {
        id: SessionId::new_random(),
        refresh_token: RefreshToken::new(format!("rt-{}", uuid::Uuid::new_v4())),
        created_at: now,
        expires_at: now + Duration::days(1),
        last_refreshed_at: None,
        user_agent: Some("agent".into()),
        generation: 0,
        method: SignInMethod::Password,
        refreshes: WindowCount::default(),
        authenticated_at: now,
    }
}

fn rotation(token: &RefreshToken, at: chrono::DateTime<chrono::Utc>) -> SessionRotation {
    SessionRotation {
        refresh_token: token.clone(),
        generation: 1,
        at,
        refreshes: WindowCount {
            window: 42,
            current: 3,
            previous: 9,
        },
    }
}

on_every_store!(
    users_round_trip,
    locales_are_kept_and_changed,
    uniqueness_is_case_insensitive,
    activation_happens_once,
    sessions_add_find_list_remove,
    sessions_are_capped,
    expired_sessions_are_not_listed,
    rotation_is_compare_and_swap,
    refresh_count_moves_only_with_its_rotation,
    concurrent_rotation_has_one_winner,
    ping_answers,
    quizzes_are_owned_and_paged,
    removing_all_or_other_sessions,
    password_hash_is_compare_and_swap,
    results_keep_feedback_once,
    outbox_claims_and_reschedules,
    outbox_keeps_dead_letters_until_requeued,
    sign_up_replaces_only_pending_accounts,
    racing_sign_ups_leave_one_account,
    old_pending_accounts_are_purged,
    pending_account_expiry_can_be_set_and_changed,
    keys_of_earlier_builds_are_recomputed,
    keys_before_the_confusables_skeleton_are_recomputed,
    corrupt_records_are_errors,
    rate_limit_hits_count_per_key_and_window,
    racing_rate_limit_hits_are_all_counted,
    mfa_changes_are_compare_and_swap,
    guests_sign_up_in_place,
    idle_guests_go_with_their_data,
    sessions_keep_their_sign_in_method,
    passkey_challenges_are_taken_once_before_they_lapse,
    passkeys_are_unique_counted_and_owned,
    sessions_keep_when_they_last_authenticated,
    all_passkeys_of_a_user_go_at_once,
);

async fn sessions_keep_when_they_last_authenticated(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (u, v) = (user("proved"), user("bystander"));
    for x in [&u, &v] {
        s.insert_user(x).await.unwrap();
    }
    let (mine, other) = (session(0), session(1));
    s.add_session(&u.id, &mine).await.unwrap();
    s.add_session(&u.id, &other).await.unwrap();
    let owner = &u.id;
    let read = |id: SessionId| async move {
        s.find_session(owner, &id)
            .await
            .unwrap()
            .unwrap()
            .authenticated_at
    };
    assert_eq!(read(mine.id.clone()).await, mine.authenticated_at);
    let later = mine.authenticated_at + Duration::minutes(7);
    assert!(
        s.set_session_authenticated(&u.id, &mine.id, later)
            .await
            .unwrap()
    );
    assert_eq!(read(mine.id.clone()).await, later);
    // Only that session of that user; a refresh keeps it.
    assert_eq!(read(other.id.clone()).await, other.authenticated_at);
    assert!(
        !s.set_session_authenticated(&v.id, &mine.id, later)
            .await
            .unwrap()
    );
    assert!(
        !s.set_session_authenticated(&u.id, &SessionId::new_random(), later)
            .await
            .unwrap()
    );
    assert!(
        s.rotate_refresh_token(
            &u.id,
            &mine.id,
            &mine.refresh_token,
            &rotation(&RefreshToken::new("rt-next".into()), later),
        )
        .await
        .unwrap()
    );
    assert_eq!(read(mine.id.clone()).await, later);
}

async fn all_passkeys_of_a_user_go_at_once(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (u, v) = (user("reset"), user("untouched"));
    for x in [&u, &v] {
        s.insert_user(x).await.unwrap();
    }
    for (owner, credential, offset) in [(&u, "A", 0), (&u, "B", 10), (&v, "C", 20)] {
        assert!(
            s.insert_passkey(&passkey(&owner.id, credential, offset))
                .await
                .unwrap()
        );
    }
    assert_eq!(s.delete_passkeys(&u.id).await.unwrap(), 2);
    assert_eq!(s.list_passkeys(&u.id).await.unwrap(), vec![]);
    assert_eq!(s.list_passkeys(&v.id).await.unwrap().len(), 1);
    assert_eq!(s.delete_passkeys(&u.id).await.unwrap(), 0);
}

async fn users_round_trip(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("Ada");
    f.store.insert_user(&u).await.unwrap();
    assert_eq!(f.store.find_user(&u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(
        f.store.find_user_by_username("ada").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        f.store.find_user_by_email("ada@example.com").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        f.store.find_user(&UserId::new_random()).await.unwrap(),
        None
    );
    assert_eq!(f.store.find_user_by_username("nobody").await.unwrap(), None);
}

/// A user's language is stored with it and changed in place; an unknown user changes nothing.
async fn locales_are_kept_and_changed(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = UserRecord {
        locale: Locale::Ko,
        ..user("Sejong")
    };
    f.store.insert_user(&u).await.unwrap();
    let read = f.store.find_user(&u.id).await.unwrap().unwrap();
    assert_eq!(read.locale, Locale::Ko);
    assert!(f.store.set_user_locale(&u.id, Locale::En).await.unwrap());
    let read = f.store.find_user(&u.id).await.unwrap().unwrap();
    assert_eq!(
        read,
        UserRecord {
            locale: Locale::En,
            ..u.clone()
        }
    );
    assert!(
        !f.store
            .set_user_locale(&UserId::new_random(), Locale::Ko)
            .await
            .unwrap()
    );
}

async fn uniqueness_is_case_insensitive(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let a = user("Grace");
    f.store.insert_user(&a).await.unwrap();
    let same_name = with_email_norm(user("grace"), "other@example.com");
    assert!(matches!(
        f.store.insert_user(&same_name).await,
        Err(store::StoreError::Conflict(UniqueField::Username))
    ));
    let same_mail = with_email_norm(user("other"), email_norm(&a));
    assert!(matches!(
        f.store.insert_user(&same_mail).await,
        Err(store::StoreError::Conflict(UniqueField::Email))
    ));
    // Neither failed insert left anything behind.
    assert_eq!(f.store.find_user(&same_name.id).await.unwrap(), None);
    assert_eq!(f.store.find_user(&same_mail.id).await.unwrap(), None);
}

async fn activation_happens_once(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("linus");
    f.store.insert_user(&u).await.unwrap();
    assert!(f.store.activate_user(&u.id).await.unwrap());
    assert!(!f.store.activate_user(&u.id).await.unwrap());
    assert!(f.store.find_user(&u.id).await.unwrap().unwrap().is_active);
    assert!(!f.store.activate_user(&UserId::new_random()).await.unwrap());
}

async fn sessions_add_find_list_remove(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("ken");
    f.store.insert_user(&u).await.unwrap();
    let (s1, s2) = (session(0), session(5));
    assert!(f.store.add_session(&u.id, &s1).await.unwrap());
    assert!(f.store.add_session(&u.id, &s2).await.unwrap());
    assert!(
        !f.store
            .add_session(&UserId::new_random(), &session(0))
            .await
            .unwrap()
    );
    assert_eq!(
        f.store.find_session(&u.id, &s1.id).await.unwrap(),
        Some(s1.clone())
    );
    let listed = f.store.list_sessions(&u.id, common::now()).await.unwrap();
    assert_eq!(listed, vec![s2.clone(), s1.clone()], "newest first");
    // Another user's id does not reach this user's sessions.
    let other = user("other");
    f.store.insert_user(&other).await.unwrap();
    assert_eq!(f.store.find_session(&other.id, &s1.id).await.unwrap(), None);
    assert!(!f.store.remove_session(&other.id, &s1.id).await.unwrap());
    assert!(f.store.remove_session(&u.id, &s1.id).await.unwrap());
    assert!(!f.store.remove_session(&u.id, &s1.id).await.unwrap());
    assert_eq!(
        f.store.list_sessions(&u.id, common::now()).await.unwrap(),
        vec![s2]
    );
}

async fn sessions_are_capped(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("many");
    f.store.insert_user(&u).await.unwrap();
    let all: Vec<_> = (0..MAX_SESSIONS_PER_USER + 2)
        .map(|i| session(i as i64))
        .collect();
    for s in &all {
        assert!(f.store.add_session(&u.id, s).await.unwrap());
    }
    let listed = f.store.list_sessions(&u.id, common::now()).await.unwrap();
    assert_eq!(listed.len(), MAX_SESSIONS_PER_USER);
    let mut expected: Vec<_> = all[2..].to_vec();
    expected.reverse();
    assert_eq!(listed, expected, "the two oldest are dropped");
}

async fn expired_sessions_are_not_listed(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("expiry");
    f.store.insert_user(&u).await.unwrap();
    let (ended, live) = (session(0), session(5));
    let ended = SessionRecord {
        expires_at: ended.created_at + Duration::minutes(1),
        ..ended
    };
    f.store.add_session(&u.id, &ended).await.unwrap();
    f.store.add_session(&u.id, &live).await.unwrap();
    let list = |now| f.store.list_sessions(&u.id, now);
    let now = common::now();
    assert_eq!(list(now).await.unwrap(), vec![live.clone(), ended.clone()]);
    assert_eq!(
        list(ended.expires_at).await.unwrap(),
        vec![live.clone()],
        "a session has ended at its expiry"
    );
    assert!(list(live.expires_at).await.unwrap().is_empty());
    // Only listing leaves it out: the session itself is still there.
    assert_eq!(
        f.store.find_session(&u.id, &ended.id).await.unwrap(),
        Some(ended)
    );
}

async fn rotation_is_compare_and_swap(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("rot");
    f.store.insert_user(&u).await.unwrap();
    let s = session(0);
    f.store.add_session(&u.id, &s).await.unwrap();
    let next = RefreshToken::new("rt-next".into());
    let at = common::now();
    let wrong = RefreshToken::new("rt-wrong".into());
    assert!(
        !f.store
            .rotate_refresh_token(&u.id, &s.id, &wrong, &rotation(&next, at))
            .await
            .unwrap()
    );
    assert!(
        f.store
            .rotate_refresh_token(&u.id, &s.id, &s.refresh_token, &rotation(&next, at))
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .rotate_refresh_token(&u.id, &s.id, &s.refresh_token, &rotation(&next, at))
            .await
            .unwrap()
    );
    let stored = f.store.find_session(&u.id, &s.id).await.unwrap().unwrap();
    assert_eq!(stored.refresh_token, next);
    assert_eq!(stored.last_refreshed_at, Some(at));
    assert_eq!(stored.generation, 1);
    assert_eq!(stored.refreshes, rotation(&next, at).refreshes);
    assert_eq!(stored.created_at, s.created_at);
    assert!(
        !f.store
            .rotate_refresh_token(
                &u.id,
                &SessionId::new_random(),
                &next,
                &rotation(&wrong, at)
            )
            .await
            .unwrap()
    );
}

/// A session's refresh count is written by the rotation's own compare-and-swap, so a refresh
/// is one write: the count moves exactly when the token does, and a lost swap moves neither.
async fn refresh_count_moves_only_with_its_rotation(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("counted");
    f.store.insert_user(&u).await.unwrap();
    let s = session(0);
    f.store.add_session(&u.id, &s).await.unwrap();
    let at = common::now();
    let step = |n: u32, token: &str, generation: i64| SessionRotation {
        refresh_token: RefreshToken::new(token.into()),
        generation,
        at: at + Duration::seconds(generation),
        refreshes: WindowCount {
            window: 7,
            current: n,
            previous: 2,
        },
    };
    let first = step(1, "rt-first", 1);
    assert!(
        f.store
            .rotate_refresh_token(&u.id, &s.id, &s.refresh_token, &first)
            .await
            .unwrap()
    );
    let after_first = f.store.find_session(&u.id, &s.id).await.unwrap().unwrap();
    assert_eq!(after_first.refresh_token, first.refresh_token);
    assert_eq!(after_first.generation, 1);
    assert_eq!(after_first.refreshes, first.refreshes);

    // A racer that read the session before the first rotation loses, and writes nothing.
    let stale = step(5, "rt-stale", 2);
    assert!(
        !f.store
            .rotate_refresh_token(&u.id, &s.id, &s.refresh_token, &stale)
            .await
            .unwrap()
    );
    assert_eq!(
        f.store.find_session(&u.id, &s.id).await.unwrap().unwrap(),
        after_first,
        "a lost compare-and-swap moves neither the token nor the count"
    );

    let second = step(2, "rt-second", 2);
    assert!(
        f.store
            .rotate_refresh_token(&u.id, &s.id, &first.refresh_token, &second)
            .await
            .unwrap()
    );
    let after_second = f.store.find_session(&u.id, &s.id).await.unwrap().unwrap();
    assert_eq!(after_second.refresh_token, second.refresh_token);
    assert_eq!(after_second.generation, 2);
    assert_eq!(after_second.last_refreshed_at, Some(second.at));
    assert_eq!(after_second.refreshes, second.refreshes);
}

async fn concurrent_rotation_has_one_winner(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("race");
    f.store.insert_user(&u).await.unwrap();
    // Many rounds: on a pool of connections a check-then-write race shows only in some of them.
    for round in 0..40 {
        let s = session(round);
        f.store.add_session(&u.id, &s).await.unwrap();
        let attempts = (0..16).map(|i| {
            let (store, u, s) = (f.store.clone(), u.id.clone(), s.clone());
            tokio::spawn(async move {
                let mine = RefreshToken::new(format!("rt-{round}-{i}"));
                let won = store
                    .rotate_refresh_token(
                        &u,
                        &s.id,
                        &s.refresh_token,
                        &rotation(&mine, common::now()),
                    )
                    .await
                    .unwrap();
                (won, mine)
            })
        });
        let results: Vec<_> = futures_util::future::join_all(attempts)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let winners: Vec<_> = results.iter().filter(|(won, _)| *won).collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one rotation may win (round {round})"
        );
        let stored = f.store.find_session(&u.id, &s.id).await.unwrap().unwrap();
        assert_eq!(stored.refresh_token, winners[0].1);
    }
}

async fn ping_answers(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    f.store.ping().await.unwrap();
    assert!(["sqlite", "mongodb"].contains(&f.store.kind()));
}

#[tokio::test]
async fn sqlite_file_store_persists_and_creates_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/quiz.db");
    let u = user("disk");
    {
        let s = quiz_llm::store::sqlite::SqliteStore::open(Some(&path))
            .await
            .unwrap();
        s.insert_user(&u).await.unwrap();
    }
    let s = quiz_llm::store::sqlite::SqliteStore::open(Some(&path))
        .await
        .unwrap();
    assert_eq!(s.find_user(&u.id).await.unwrap(), Some(u));
    let wal = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().ends_with("-wal"));
    assert!(wal, "the database runs in WAL mode");
}

fn quiz(owner: &UserId, offset_ms: i64) -> QuizRecord {
    QuizRecord {
        id: QuizId::new_random(),
        owner: owner.clone(),
        title: "Apollo".into(),
        description: "d".into(),
        topic: "space".into(),
        difficulty: Difficulty::Hard,
        source: QuizSource::Offline,
        language: "ko".into(),
        questions: vec![QuestionRecord {
            number: 1,
            content: "달에 처음 간 사람은?".into(),
            answer_type: AnswerType::TrueFalse,
            choices: vec![
                ChoiceRecord {
                    number: 1,
                    content: "True".into(),
                    correct: true,
                },
                ChoiceRecord {
                    number: 2,
                    content: "False".into(),
                    correct: false,
                },
            ],
            explanation: Some("because".into()),
            accepted_answers: Vec::new(),
            source: Some(passage()),
        }],
        created_at: common::now() + Duration::milliseconds(offset_ms),
    }
}

/// A passage with a page, so that every field of it makes the round trip.
fn passage() -> SourcePassageRecord {
    SourcePassageRecord {
        excerpt: "닐 암스트롱이 달에 처음 내렸다.".into(),
        start: 12,
        end: 30,
        page: Some(2),
    }
}

fn result_of(q: &QuizRecord, offset_ms: i64) -> QuizResultRecord {
    QuizResultRecord {
        id: ResultId::new_random(),
        owner: q.owner.clone(),
        quiz_id: q.id.clone(),
        quiz_title: q.title.clone(),
        language: q.language.clone(),
        answers: vec![AnswerRecord {
            question_number: 1,
            question: q.questions[0].content.clone(),
            selected_choice: None,
            selected_content: None,
            correct_choice: 1,
            correct_content: "True".into(),
            is_correct: false,
            explanation: None,
            source: Some(passage()),
            grading_note: None,
        }],
        correct_count: 0,
        total_questions: 1,
        score: 0.0,
        submitted_at: common::now() + Duration::milliseconds(offset_ms),
        feedback: None,
    }
}

/// How many quizzes the store counts for `owner`.
pub async fn quiz_count(store: &dyn Store, owner: &UserId) -> u64 {
    store.list_quiz_keys(owner, None, 1).await.unwrap().total
}

async fn quizzes_are_owned_and_paged(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let (me, other) = (UserId::new_random(), UserId::new_random());
    // Two share a timestamp: the id breaks the tie, so pages never skip or repeat.
    let mut quizzes: Vec<_> = (0..5).map(|i| quiz(&me, (i / 2) * 10)).collect();
    for q in &quizzes {
        f.store.insert_quiz(q).await.unwrap();
    }
    f.store.insert_quiz(&quiz(&other, 0)).await.unwrap();
    assert_eq!(
        f.store.find_quiz(&me, &quizzes[0].id).await.unwrap(),
        Some(quizzes[0].clone())
    );
    assert_eq!(
        f.store.find_quiz(&other, &quizzes[0].id).await.unwrap(),
        None
    );
    assert_eq!(quiz_count(&*f.store, &me).await, 5);

    quizzes.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
    let mut seen = Vec::new();
    let mut after: Option<PageAfter> = None;
    loop {
        let page = f
            .store
            .list_quiz_keys(&me, after.as_ref(), 2)
            .await
            .unwrap();
        assert_eq!(page.total, 5, "every page counts them all");
        if page.keys.is_empty() {
            break;
        }
        let last = page.keys.last().unwrap();
        after = Some(PageAfter {
            at: last.created_at,
            id: last.id.to_string(),
        });
        seen.extend(page.keys);
    }
    let keys: Vec<QuizKey> = quizzes
        .iter()
        .map(|q| QuizKey {
            id: q.id.clone(),
            created_at: q.created_at,
        })
        .collect();
    assert_eq!(seen, keys, "newest first, every quiz exactly once");

    // Found by id, in any order; another owner's and unknown ids are left out.
    let theirs = quiz(&other, 5);
    f.store.insert_quiz(&theirs).await.unwrap();
    let asked = [
        quizzes[3].id.clone(),
        theirs.id.clone(),
        QuizId::new_random(),
        quizzes[1].id.clone(),
    ];
    let mut found = f.store.find_quizzes(&me, &asked).await.unwrap();
    found.sort_by(|a, b| (b.created_at, b.id.as_str()).cmp(&(a.created_at, a.id.as_str())));
    assert_eq!(found, vec![quizzes[1].clone(), quizzes[3].clone()]);
    assert!(f.store.find_quizzes(&me, &[]).await.unwrap().is_empty());

    assert!(!f.store.delete_quiz(&other, &quizzes[0].id).await.unwrap());
    assert!(f.store.delete_quiz(&me, &quizzes[0].id).await.unwrap());
    assert!(!f.store.delete_quiz(&me, &quizzes[0].id).await.unwrap());
    assert_eq!(quiz_count(&*f.store, &me).await, 4);
    assert_eq!(quiz_count(&*f.store, &UserId::new_random()).await, 0);
}

async fn results_keep_feedback_once(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let me = UserId::new_random();
    let (q1, q2) = (quiz(&me, 0), quiz(&me, 1));
    let results = [result_of(&q1, 0), result_of(&q2, 5), result_of(&q1, 10)];
    for r in &results {
        f.store.insert_result(r).await.unwrap();
    }
    assert_eq!(
        f.store.find_result(&me, &results[0].id).await.unwrap(),
        Some(results[0].clone())
    );
    assert_eq!(
        f.store
            .find_result(&UserId::new_random(), &results[0].id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(f.store.count_results(&me, None).await.unwrap(), 3);
    assert_eq!(f.store.count_results(&me, Some(&q1.id)).await.unwrap(), 2);
    let of_q1 = f
        .store
        .list_results(&me, Some(&q1.id), None, 10)
        .await
        .unwrap();
    assert_eq!(of_q1, vec![results[2].clone(), results[0].clone()]);
    let after = PageAfter {
        at: results[2].submitted_at,
        id: results[2].id.to_string(),
    };
    let rest = f
        .store
        .list_results(&me, None, Some(&after), 10)
        .await
        .unwrap();
    assert_eq!(rest, vec![results[1].clone(), results[0].clone()]);

    let feedback = FeedbackRecord {
        summary: "요약".into(),
        items: vec![QuestionFeedbackRecord {
            question_number: 1,
            feedback: "정답은 True".into(),
        }],
    };
    assert!(
        f.store
            .set_feedback(&me, &results[0].id, &feedback)
            .await
            .unwrap()
    );
    let second = FeedbackRecord {
        summary: "other".into(),
        items: vec![],
    };
    assert!(
        !f.store
            .set_feedback(&me, &results[0].id, &second)
            .await
            .unwrap()
    );
    let stored = f
        .store
        .find_result(&me, &results[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.feedback, Some(feedback));
    assert!(
        !f.store
            .set_feedback(&UserId::new_random(), &results[1].id, &second)
            .await
            .unwrap()
    );

    // Results outlive their quiz.
    f.store.insert_quiz(&q1).await.unwrap();
    f.store.delete_quiz(&me, &q1.id).await.unwrap();
    assert_eq!(f.store.count_results(&me, Some(&q1.id)).await.unwrap(), 2);
}

async fn removing_all_or_other_sessions(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let (u, other) = (user("ends"), user("bystander"));
    f.store.insert_user(&u).await.unwrap();
    f.store.insert_user(&other).await.unwrap();
    let sessions: Vec<_> = (0..3).map(session).collect();
    for s in &sessions {
        f.store.add_session(&u.id, s).await.unwrap();
    }
    let theirs = session(0);
    f.store.add_session(&other.id, &theirs).await.unwrap();
    assert_eq!(
        f.store
            .remove_sessions(&u.id, Some(&sessions[1].id))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        f.store.list_sessions(&u.id, common::now()).await.unwrap(),
        vec![sessions[1].clone()]
    );
    assert_eq!(f.store.remove_sessions(&u.id, None).await.unwrap(), 1);
    assert!(
        f.store
            .list_sessions(&u.id, common::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store
            .list_sessions(&other.id, common::now())
            .await
            .unwrap(),
        vec![theirs]
    );
}

async fn password_hash_is_compare_and_swap(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("pw");
    f.store.insert_user(&u).await.unwrap();
    let new = PasswordHash::new("$argon2id$new".into());
    assert!(!f.store.set_password_hash(&u.id, &new, &new).await.unwrap());
    assert!(
        f.store
            .set_password_hash(&u.id, u.password_hash().unwrap(), &new)
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .set_password_hash(&u.id, u.password_hash().unwrap(), &new)
            .await
            .unwrap()
    );
    assert_eq!(
        f.store
            .find_user(&u.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash(),
        Some(&new)
    );
}

fn mail(offset_ms: i64) -> OutboxRecord {
    let at = common::now() + Duration::milliseconds(offset_ms);
    OutboxRecord {
        id: MailId::new_random(),
        to: "ada <ada@example.com>".into(),
        subject: "s".into(),
        text: "t".into(),
        html: "<p>h</p>".into(),
        attempts: 0,
        next_attempt_at: at,
        created_at: at,
        last_error: None,
    }
}

async fn outbox_claims_and_reschedules(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let (early, late, future) = (mail(-2000), mail(-1000), mail(60_000));
    for m in [&late, &future, &early] {
        f.store.enqueue_mail(m).await.unwrap();
    }
    assert_eq!(f.store.count_mail().await.unwrap(), 3);
    let now = common::now();
    let due = f.store.due_mail(now, 10).await.unwrap();
    assert_eq!(
        due,
        vec![early.clone(), late.clone()],
        "due ones, oldest first"
    );

    let lease = now + Duration::seconds(60);
    assert!(
        f.store
            .claim_mail(&early.id, early.next_attempt_at, lease)
            .await
            .unwrap()
    );
    assert!(
        !f.store
            .claim_mail(&early.id, early.next_attempt_at, lease)
            .await
            .unwrap(),
        "claimed once"
    );
    assert_eq!(f.store.due_mail(now, 10).await.unwrap(), vec![late.clone()]);

    f.store
        .reschedule_mail(&early.id, 1, now, "smtp down")
        .await
        .unwrap();
    let again = f.store.due_mail(common::now(), 10).await.unwrap();
    let retried = again.iter().find(|m| m.id == early.id).expect("due again");
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.last_error.as_deref(), Some("smtp down"));

    f.store.remove_mail(&early.id).await.unwrap();
    f.store.remove_mail(&late.id).await.unwrap();
    assert_eq!(f.store.count_mail().await.unwrap(), 1);
    assert!(
        f.store
            .due_mail(common::now(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn outbox_keeps_dead_letters_until_requeued(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let (hopeless, fine) = (mail(-2000), mail(-1000));
    for m in [&hopeless, &fine] {
        f.store.enqueue_mail(m).await.unwrap();
    }
    f.store
        .mark_mail_dead(&hopeless.id, 16, "550 no such user", common::now())
        .await
        .unwrap();
    let now = common::now();
    assert_eq!(
        f.store.due_mail(now, 10).await.unwrap(),
        vec![fine.clone()],
        "a dead letter is not due"
    );
    assert_eq!(f.store.count_mail().await.unwrap(), 2, "but it is kept");
    assert_eq!(f.store.count_dead_mail().await.unwrap(), 1);
    assert_eq!(
        f.store.count_pending_mail().await.unwrap(),
        1,
        "the live one"
    );

    let later = now + Duration::seconds(1);
    assert_eq!(f.store.requeue_dead_mail(later).await.unwrap(), 1);
    assert_eq!(f.store.count_dead_mail().await.unwrap(), 0);
    assert_eq!(f.store.count_pending_mail().await.unwrap(), 2);
    assert_eq!(
        f.store.due_mail(now, 10).await.unwrap(),
        vec![fine.clone()],
        "due only from the requeue time on"
    );
    let due = f.store.due_mail(later, 10).await.unwrap();
    let again = due.iter().find(|m| m.id == hopeless.id).expect("due again");
    assert_eq!(again.attempts, 0, "a fresh series of attempts");
    assert_eq!(again.last_error.as_deref(), Some("550 no such user"));
    assert_eq!(again.next_attempt_at, later);
    assert_eq!(f.store.requeue_dead_mail(later).await.unwrap(), 0);

    // A requeued mail can fail again and die again.
    f.store
        .mark_mail_dead(&hopeless.id, 16, "still failing", common::now())
        .await
        .unwrap();
    assert_eq!(f.store.count_dead_mail().await.unwrap(), 1);
}

/// A pending account that holds `email_norm`.
fn pending_with_email(name: &str, email_norm: &str) -> UserRecord {
    with_email_norm(user(name), email_norm)
}

async fn sign_up_replaces_only_pending_accounts(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let squatter = pending_with_email("mallory", "victim@example.com");
    s.insert_user(&squatter).await.unwrap();
    let victim = pending_with_email("victim", "victim@example.com");
    assert_eq!(s.insert_user_replacing_pending(&victim).await.unwrap(), 1);
    assert_eq!(s.find_user(&squatter.id).await.unwrap(), None);
    assert_eq!(
        s.find_user_by_email("victim@example.com").await.unwrap(),
        Some(victim.clone())
    );

    // Pending holders of the name and of the address both give way.
    let (name_holder, mail_holder) = (user("taken"), user("other"));
    s.insert_user(&name_holder).await.unwrap();
    s.insert_user(&mail_holder).await.unwrap();
    let both = UserRecord {
        username_norm: name_holder.username_norm.clone(),
        ..pending_with_email("taken2", email_norm(&mail_holder))
    };
    assert_eq!(s.insert_user_replacing_pending(&both).await.unwrap(), 2);
    assert_eq!(s.find_user(&name_holder.id).await.unwrap(), None);
    assert_eq!(s.find_user(&mail_holder.id).await.unwrap(), None);

    // A verified account is never touched, and blocking a sign-up deletes nothing at all.
    assert!(s.activate_user(&victim.id).await.unwrap());
    let pending = user("bystander");
    s.insert_user(&pending).await.unwrap();
    let blocked = UserRecord {
        username_norm: pending.username_norm.clone(),
        ..pending_with_email("late", "victim@example.com")
    };
    assert!(matches!(
        s.insert_user_replacing_pending(&blocked).await,
        Err(store::StoreError::Conflict(UniqueField::Email))
    ));
    let blocked = UserRecord {
        username_norm: victim.username_norm.clone(),
        ..user("late2")
    };
    assert!(matches!(
        s.insert_user_replacing_pending(&blocked).await,
        Err(store::StoreError::Conflict(UniqueField::Username))
    ));
    assert!(s.find_user(&victim.id).await.unwrap().unwrap().is_active);
    assert_eq!(s.find_user(&pending.id).await.unwrap(), Some(pending));
    assert_eq!(s.find_user(&blocked.id).await.unwrap(), None);
}

async fn racing_sign_ups_leave_one_account(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let racers: Vec<UserRecord> = (0..8)
        .map(|i| pending_with_email(&format!("racer{i}"), "race@example.com"))
        .collect();
    let results = futures_util::future::join_all(racers.iter().cloned().map(|u| {
        let store = f.store.clone();
        tokio::spawn(async move { store.insert_user_replacing_pending(&u).await })
    }))
    .await;
    let mut left = Vec::new();
    for u in &racers {
        if let Some(found) = f.store.find_user(&u.id).await.unwrap() {
            left.push(found);
        }
    }
    assert_eq!(left.len(), 1, "exactly one account is left: {left:?}");
    let winner = racers.iter().position(|u| u.id == left[0].id).unwrap();
    assert!(matches!(results[winner], Ok(Ok(_))), "{results:?}");
    assert_eq!(
        f.store
            .find_user_by_email("race@example.com")
            .await
            .unwrap(),
        Some(left[0].clone())
    );
}

async fn old_pending_accounts_are_purged(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let now = common::now();
    let aged = |name: &str, age: Duration| UserRecord {
        created_at: now - age,
        ..user(name)
    };
    let old_pending = aged("old", Duration::days(4));
    let young_pending = aged("young", Duration::hours(1));
    let old_verified = aged("veteran", Duration::days(400));
    for u in [&old_pending, &young_pending, &old_verified] {
        f.store.insert_user(u).await.unwrap();
    }
    f.store.activate_user(&old_verified.id).await.unwrap();
    let cutoff = now - Duration::days(3);
    assert_eq!(f.store.delete_pending_users(cutoff).await.unwrap(), 1);
    assert_eq!(f.store.find_user(&old_pending.id).await.unwrap(), None);
    assert!(
        f.store
            .find_user(&young_pending.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(f.store.find_user(&old_verified.id).await.unwrap().is_some());
    assert_eq!(f.store.delete_pending_users(cutoff).await.unwrap(), 0);
}

/// The database's own expiry of unverified accounts (MongoDB: a partial TTL index) can be set
/// again, with another TTL, by every process that starts; it leaves the accounts to the clock.
async fn pending_account_expiry_can_be_set_and_changed(backend: Backend) {
    use futures_util::TryStreamExt;
    let Some((url, _guard)) = database_for(backend) else {
        return;
    };
    let store = store::connect(&url).await.expect("connect");
    let pending = user("waiting");
    store.insert_user(&pending).await.unwrap();
    let day = std::time::Duration::from_secs(86_400);
    for ttl in [3 * day, 3 * day, day] {
        store.expire_pending_users_after(ttl).await.unwrap();
    }
    assert!(store.find_user(&pending.id).await.unwrap().is_some());
    let quiz_llm::store::DatabaseUrl::Mongo(url) = &url else {
        return;
    };
    let client = ::mongodb::Client::with_uri_str(url.expose_secret())
        .await
        .unwrap();
    let indexes: Vec<::mongodb::IndexModel> = client
        .default_database()
        .unwrap()
        .collection::<Document>("users")
        .list_indexes()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let expiry = indexes
        .iter()
        .find(|i| {
            i.options
                .as_ref()
                .is_some_and(|o| o.name.as_deref() == Some("users_pending_expiry"))
        })
        .unwrap_or_else(|| panic!("no expiry index in {indexes:?}"));
    assert_eq!(expiry.keys, ::mongodb::bson::doc! { "created_at": 1 });
    let options = expiry.options.as_ref().unwrap();
    // The MongoDB-wire test server keeps no index options; a real MongoDB does.
    if let Some(ttl) = options.expire_after {
        assert_eq!(ttl, day, "the last TTL set");
        assert_eq!(
            options.partial_filter_expression,
            Some(::mongodb::bson::doc! { "is_active": false, "is_guest": false })
        );
    }
}

/// A database a test can also write behind the store's back: a SQLite file at `path` (for both
/// SQLite variants), or a fresh MongoDB database; `None` without a MongoDB server.
fn reachable_behind_the_store(
    backend: Backend,
    path: &std::path::Path,
) -> Option<(quiz_llm::store::DatabaseUrl, Option<common::DbGuard>)> {
    match backend {
        Backend::Sqlite | Backend::SqliteFile => Some((
            quiz_llm::store::DatabaseUrl::Sqlite(Some(path.to_owned())),
            None,
        )),
        Backend::Mongo => database_for(backend).map(|(url, guard)| (url, Some(guard))),
    }
}

/// A database written by a build that kept lower-cased keys gets look-alike skeletons and
/// canonical addresses when a newer build opens it; the older of two look-alikes keeps the name.
async fn keys_of_earlier_builds_are_recomputed(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiz.db");
    let Some((url, _guard)) = reachable_behind_the_store(backend, &path) else {
        return;
    };
    let now = common::now();
    let alice = UserRecord {
        created_at: now - Duration::days(2),
        ..user("alice")
    };
    let look_alike = UserRecord {
        created_at: now - Duration::days(1),
        ..user("aIice")
    };
    let carol = UserRecord {
        credentials: Some(Credentials {
            email: EmailAddress::parse("carol@Bücher.de").unwrap(),
            email_norm: "carol@bücher.de".into(),
            password_hash: PasswordHash::new("$argon2id$fake".into()),
        }),
        ..user("carol")
    };
    {
        let old = store::connect(&url).await.unwrap();
        for u in [&look_alike, &alice, &carol] {
            old.insert_user(u).await.unwrap();
        }
    }
    // Wind the schema back to before the new keys.
    match backend {
        Backend::Sqlite | Backend::SqliteFile => {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch(
                "DROP INDEX users_pending; DROP TABLE rate_limits; DROP TABLE mfa; \
                 DROP INDEX users_guests; ALTER TABLE users DROP COLUMN is_guest; \
                 ALTER TABLE sessions DROP COLUMN sign_in_method; \
                 ALTER TABLE sessions DROP COLUMN refresh_window; \
                 ALTER TABLE sessions DROP COLUMN refreshes; \
                 ALTER TABLE sessions DROP COLUMN refreshes_before; \
                 ALTER TABLE sessions DROP COLUMN authenticated_at; \
                 DROP TABLE passkey_challenges; DROP TABLE passkeys; DROP TABLE stream_leases; \
                 PRAGMA user_version = 5;",
            )
            .unwrap();
        }
        Backend::Mongo => {
            let quiz_llm::store::DatabaseUrl::Mongo(url) = &url else {
                unreachable!()
            };
            let client = ::mongodb::Client::with_uri_str(url.expose_secret())
                .await
                .unwrap();
            let db = client.default_database().unwrap();
            db.collection::<::mongodb::bson::Document>("migrations")
                .drop()
                .await
                .unwrap();
        }
    }
    let s = store::connect(&url).await.unwrap();
    let found = |u: Option<UserRecord>| u.map(|u| u.id);
    let skeleton = username_skeleton("alice");
    assert_eq!(
        found(s.find_user_by_username(&skeleton).await.unwrap()),
        Some(alice.id.clone())
    );
    let younger = s.find_user(&look_alike.id).await.unwrap().unwrap();
    assert_eq!(
        younger.username_norm,
        format!("{skeleton}#{}", look_alike.id)
    );
    assert_eq!(email_norm(&younger), email_norm(&look_alike));
    assert_eq!(
        found(
            s.find_user_by_email("carol@xn--bcher-kva.de")
                .await
                .unwrap()
        ),
        Some(carol.id.clone())
    );
    assert_eq!(
        s.find_user(&carol.id)
            .await
            .unwrap()
            .unwrap()
            .username
            .as_str(),
        "carol"
    );
}

/// A database whose username keys were computed before the confusables skeleton (`rnary` and
/// `mary` apart) gets the new keys when a newer build opens it: the older account keeps the
/// name, the younger gets a key no lookup produces, and guests keep theirs.
async fn keys_before_the_confusables_skeleton_are_recomputed(backend: Backend) {
    use ::mongodb::bson::doc;
    assert_eq!(username_skeleton("mary"), username_skeleton("rnary"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiz.db");
    let Some((url, _guard)) = reachable_behind_the_store(backend, &path) else {
        return;
    };
    let now = common::now();
    // The keys the earlier rule gave: lower-cased, `i`/`l`/`1` and `o`/`0` merged.
    let mary = UserRecord {
        created_at: now - Duration::days(2),
        ..user("mary")
    };
    let look_alike = UserRecord {
        created_at: now - Duration::days(1),
        ..user("rnary")
    };
    let guest = UserRecord::new_guest(now);
    {
        let old = store::connect(&url).await.unwrap();
        for u in [&look_alike, &mary, &guest] {
            old.insert_user(u).await.unwrap();
        }
    }
    let raw = match &url {
        quiz_llm::store::DatabaseUrl::Sqlite(_) => {
            Raw::Sqlite(rusqlite::Connection::open(&path).unwrap())
        }
        quiz_llm::store::DatabaseUrl::Mongo(url) => Raw::Mongo(
            ::mongodb::Client::with_uri_str(url.expose_secret())
                .await
                .unwrap()
                .default_database()
                .unwrap(),
        ),
    };
    // Wind the database back to before the skeleton: SQLite migration 15 (those after it make
    // only what is missing, so they run again unharmed), the `user-keys-v3` mark on MongoDB.
    match &raw {
        Raw::Sqlite(c) => {
            c.pragma_update(None, "user_version", 14).unwrap();
        }
        Raw::Mongo(db) => {
            db.collection::<Document>("migrations")
                .delete_one(doc! { "_id": "user-keys-v3" })
                .await
                .unwrap();
            db.collection::<Document>("migrations")
                .update_one(
                    doc! { "_id": "user-keys-v2" },
                    doc! { "$set": { "wound_back": true } },
                )
                .upsert(true)
                .await
                .unwrap();
        }
    }
    drop(raw);
    let s = store::connect(&url).await.unwrap();
    let found = |u: Option<UserRecord>| u.map(|u| u.id);
    let skeleton = username_skeleton("mary");
    assert_eq!(
        found(s.find_user_by_username(&skeleton).await.unwrap()),
        Some(mary.id.clone())
    );
    let younger = s.find_user(&look_alike.id).await.unwrap().unwrap();
    assert_eq!(
        younger.username_norm,
        format!("{skeleton}#{}", look_alike.id)
    );
    assert_eq!(email_norm(&younger), email_norm(&look_alike));
    assert_eq!(s.find_user(&guest.id).await.unwrap(), Some(guest.clone()));
}

/// Writes that bypass the store, to plant what no build of it writes.
enum Raw {
    Sqlite(rusqlite::Connection),
    Mongo(::mongodb::Database),
}

impl Raw {
    async fn plant(&self, sql: &str, collection: &str, filter: Document, update: Document) {
        match self {
            Raw::Sqlite(c) => {
                c.execute_batch(sql).unwrap();
            }
            Raw::Mongo(db) => {
                let coll = db.collection::<Document>(collection);
                if filter.is_empty() {
                    coll.insert_one(update).await.unwrap();
                } else {
                    let done = coll.update_one(filter, update).await.unwrap();
                    assert_eq!(done.modified_count, 1, "planted in {collection}");
                }
            }
        }
    }
}

/// A row or document that does not decode is an error, never a record with made-up values (a
/// random id, the epoch).
async fn corrupt_records_are_errors(backend: Backend) {
    use ::mongodb::bson::{DateTime as BsonTime, doc};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiz.db");
    let Some((url, _guard)) = reachable_behind_the_store(backend, &path) else {
        return;
    };
    let s = store::connect(&url).await.unwrap();
    let raw = match &url {
        quiz_llm::store::DatabaseUrl::Sqlite(_) => {
            Raw::Sqlite(rusqlite::Connection::open(&path).unwrap())
        }
        quiz_llm::store::DatabaseUrl::Mongo(url) => {
            let client = ::mongodb::Client::with_uri_str(url.expose_secret())
                .await
                .unwrap();
            Raw::Mongo(client.default_database().unwrap())
        }
    };
    let corrupt = |what: &str, result: store::StoreResult<_>| match result {
        Err(err @ store::StoreError::Corrupt(_)) => {
            // The driver's error stays the cause, so the log line says what did not decode.
            let cause = std::error::Error::source(&err)
                .unwrap_or_else(|| panic!("{what}: no cause"))
                .to_string();
            assert!(!cause.is_empty(), "{what}");
            assert!(
                err.chain()
                    .to_string()
                    .starts_with(&format!("stored data does not decode: {cause}")),
                "{what}: {}",
                err.chain()
            );
        }
        other => panic!("{what}: expected a Corrupt error, got {other:?}"),
    };

    // A user whose id is not a UUID.
    let now_ms = common::now().timestamp_millis();
    raw.plant(
        &format!(
            "INSERT INTO users (id, username, username_norm, email, email_norm, password_hash, \
             is_active, created_at) VALUES ('not-a-uuid', 'odd', 'odd', 'odd@example.com', \
             'odd@example.com', 'x', 0, {now_ms})"
        ),
        "users",
        doc! {},
        doc! {
            "_id": "not-a-uuid", "username": "odd", "username_norm": "odd",
            "email": "odd@example.com", "email_norm": "odd@example.com", "password_hash": "x",
            "is_active": false, "created_at": BsonTime::now(), "sessions": [],
        },
    )
    .await;
    corrupt("an id", s.find_user_by_username("odd").await.map(|_| ()));

    // A user created at a time no clock shows.
    let u = user("late");
    s.insert_user(&u).await.unwrap();
    raw.plant(
        &format!(
            "UPDATE users SET created_at = {} WHERE id = '{}'",
            i64::MAX,
            u.id
        ),
        "users",
        doc! { "_id": u.id.as_str() },
        doc! { "$set": { "created_at": BsonTime::MAX } },
    )
    .await;
    corrupt("a user's time", s.find_user(&u.id).await.map(|_| ()));

    // A session that ends at a time no clock shows.
    let u = user("sessions");
    s.insert_user(&u).await.unwrap();
    let sess = session(0);
    s.add_session(&u.id, &sess).await.unwrap();
    raw.plant(
        &format!(
            "UPDATE sessions SET expires_at = {} WHERE id = '{}'",
            i64::MAX,
            sess.id
        ),
        "users",
        doc! { "_id": u.id.as_str() },
        doc! { "$set": { "sessions.0.expires_at": BsonTime::MAX } },
    )
    .await;
    corrupt(
        "a session",
        s.find_session(&u.id, &sess.id).await.map(|_| ()),
    );
    corrupt(
        "sessions",
        s.list_sessions(&u.id, common::now()).await.map(|_| ()),
    );

    // A quiz whose time is not a time.
    let q = quiz(&u.id, 0);
    s.insert_quiz(&q).await.unwrap();
    raw.plant(
        &format!(
            "UPDATE quizzes SET body = json_set(body, '$.created_at', 'yesterday') WHERE id = '{}'",
            q.id
        ),
        "quizzes",
        doc! { "_id": q.id.as_str() },
        doc! { "$set": { "created_at": "yesterday" } },
    )
    .await;
    corrupt("a quiz", s.find_quiz(&u.id, &q.id).await.map(|_| ()));
    corrupt(
        "quizzes",
        s.find_quizzes(&u.id, std::slice::from_ref(&q.id))
            .await
            .map(|_| ()),
    );

    // A mail due at a time no clock shows.
    let m = mail(0);
    s.enqueue_mail(&m).await.unwrap();
    raw.plant(
        &format!(
            "UPDATE outbox SET next_attempt_at = {} WHERE id = '{}'",
            i64::MIN,
            m.id
        ),
        "outbox",
        doc! { "_id": m.id.as_str() },
        doc! { "$set": { "next_attempt_at": BsonTime::MIN } },
    )
    .await;
    corrupt("a mail", s.due_mail(common::now(), 10).await.map(|_| ()));
}

async fn rate_limit_hits_count_per_key_and_window(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let later = common::now() + Duration::hours(1);
    let hits = |current, previous| WindowHits { current, previous };
    assert_eq!(s.hit_rate_limit("a", 10, later).await.unwrap(), hits(1, 0));
    assert_eq!(s.hit_rate_limit("a", 10, later).await.unwrap(), hits(2, 0));
    // Another key counts apart.
    assert_eq!(s.hit_rate_limit("b", 10, later).await.unwrap(), hits(1, 0));
    // The next window starts at one and sees this one's hits.
    assert_eq!(s.hit_rate_limit("a", 11, later).await.unwrap(), hits(1, 2));
    // A refused hit is taken back; never below zero.
    s.unhit_rate_limit("a", 11).await.unwrap();
    s.unhit_rate_limit("a", 11).await.unwrap();
    assert_eq!(s.hit_rate_limit("a", 11, later).await.unwrap(), hits(1, 2));
    // Two windows on, the old ones are gone.
    assert_eq!(s.hit_rate_limit("a", 13, later).await.unwrap(), hits(1, 0));

    // Expired counters are purged; live ones stay.
    let soon = common::now() + Duration::seconds(1);
    s.hit_rate_limit("c", 10, soon).await.unwrap();
    assert!(s.purge_rate_limits(common::now()).await.unwrap() == 0);
    assert!(
        s.purge_rate_limits(soon + Duration::seconds(1))
            .await
            .unwrap()
            >= 1
    );
    assert_eq!(s.hit_rate_limit("c", 10, soon).await.unwrap(), hits(1, 0));
    assert_eq!(s.hit_rate_limit("a", 13, later).await.unwrap(), hits(2, 0));
}

async fn racing_rate_limit_hits_are_all_counted(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let later = common::now() + Duration::hours(1);
    let hits = futures_util::future::join_all((0..40).map(|_| {
        let store = f.store.clone();
        tokio::spawn(async move { store.hit_rate_limit("race", 7, later).await.unwrap() })
    }))
    .await;
    let mut seen: Vec<u64> = hits.into_iter().map(|h| h.unwrap().current).collect();
    seen.sort();
    seen.dedup();
    // No hit was lost: the next one sees all forty before it.
    let next = f.store.hit_rate_limit("race", 7, later).await.unwrap();
    assert_eq!(next.current, 41);
    // Each saw the hits before it, its own included. (Real MongoDB and SQLite give every hit a
    // count of its own; the MongoDB-wire test server may show two racing hits the same
    // post-image, so distinctness is not asserted.)
    assert!(seen.iter().all(|n| (1..=40).contains(n)), "{seen:?}");
    assert!(seen.len() >= 20 && seen.last() == Some(&40), "{seen:?}");
}

async fn mfa_changes_are_compare_and_swap(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let u = user("second");
    s.insert_user(&u).await.unwrap();
    assert_eq!(s.find_mfa(&u.id).await.unwrap(), MfaRecord::default());

    // Enrollment: only the pending secret it was started with can be confirmed.
    let (first, second) = (SealedSecret("one".into()), SealedSecret("two".into()));
    s.set_pending_totp(&u.id, &first).await.unwrap();
    s.set_pending_totp(&u.id, &second).await.unwrap();
    let codes = vec!["h1".to_owned(), "h2".to_owned()];
    assert!(!s.enable_totp(&u.id, &first, 5, &codes).await.unwrap());
    assert!(s.enable_totp(&u.id, &second, 5, &codes).await.unwrap());
    assert!(
        !s.enable_totp(&u.id, &second, 5, &codes).await.unwrap(),
        "already on"
    );
    let on = s.find_mfa(&u.id).await.unwrap();
    assert_eq!(on.totp, Some(second.clone()));
    assert_eq!(on.pending, None);
    assert_eq!(
        (on.last_step, on.recovery_codes.clone()),
        (5, codes.clone())
    );
    assert!(on.enabled());

    // Steps only move forward: a code's step is accepted once.
    assert!(!s.use_totp_step(&u.id, 5).await.unwrap());
    assert!(s.use_totp_step(&u.id, 6).await.unwrap());
    assert!(!s.use_totp_step(&u.id, 6).await.unwrap());
    assert!(!s.use_totp_step(&u.id, 4).await.unwrap());

    // Recovery codes are spent once each; racing spends of one code have one winner.
    let spends = futures_util::future::join_all((0..6).map(|_| {
        let store = f.store.clone();
        let id = u.id.clone();
        tokio::spawn(async move { store.use_recovery_code(&id, "h1").await.unwrap() })
    }))
    .await;
    assert_eq!(
        spends.into_iter().filter(|w| *w.as_ref().unwrap()).count(),
        1
    );
    assert_eq!(s.find_mfa(&u.id).await.unwrap().recovery_codes, vec!["h2"]);
    assert!(
        s.set_recovery_codes(&u.id, &["h3".to_owned()])
            .await
            .unwrap()
    );
    assert!(!s.use_recovery_code(&u.id, "h2").await.unwrap());
    assert!(s.use_recovery_code(&u.id, "h3").await.unwrap());

    // A waiting login is taken once, before it lapses, by its own token.
    let now = common::now();
    let challenge = MfaChallenge {
        token_hash: "t1".into(),
        expires_at: now + Duration::minutes(5),
    };
    s.set_mfa_challenge(&u.id, &challenge).await.unwrap();
    assert!(!s.take_mfa_challenge(&u.id, "t0", now).await.unwrap());
    assert!(
        !s.take_mfa_challenge(&u.id, "t1", now + Duration::minutes(6))
            .await
            .unwrap()
    );
    assert!(s.take_mfa_challenge(&u.id, "t1", now).await.unwrap());
    assert!(!s.take_mfa_challenge(&u.id, "t1", now).await.unwrap());

    // Off: everything goes, and the codes no longer work.
    s.set_recovery_codes(&u.id, &["h4".to_owned()])
        .await
        .unwrap();
    assert!(s.disable_totp(&u.id).await.unwrap());
    assert!(!s.disable_totp(&u.id).await.unwrap());
    assert!(!s.use_recovery_code(&u.id, "h4").await.unwrap());
    assert!(!s.use_totp_step(&u.id, 100).await.unwrap());
    assert!(!s.find_mfa(&u.id).await.unwrap().enabled());
}

fn passkey_challenge(
    ceremony: PasskeyCeremony,
    user_id: Option<UserId>,
    expires_in: Duration,
) -> PasskeyChallengeRecord {
    PasskeyChallengeRecord {
        id: PasskeyChallengeId::new_random(),
        ceremony,
        user_id,
        state: format!("{{\"state\":\"{}\"}}", uuid::Uuid::new_v4()),
        expires_at: common::now() + expires_in,
    }
}

async fn passkey_challenges_are_taken_once_before_they_lapse(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = common::now();
    let u = user("ceremonial");
    s.insert_user(&u).await.unwrap();
    let registration = passkey_challenge(
        PasskeyCeremony::Registration,
        Some(u.id.clone()),
        Duration::minutes(5),
    );
    s.insert_passkey_challenge(&registration).await.unwrap();
    assert_eq!(
        s.take_passkey_challenge(&registration.id, now + Duration::minutes(6))
            .await
            .unwrap(),
        None,
        "lapsed"
    );
    assert_eq!(
        s.take_passkey_challenge(&registration.id, now)
            .await
            .unwrap(),
        Some(registration.clone())
    );
    assert_eq!(
        s.take_passkey_challenge(&registration.id, now)
            .await
            .unwrap(),
        None,
        "taken already"
    );
    // A login with discoverable credentials names nobody; racing takes have one winner.
    let login = passkey_challenge(PasskeyCeremony::Login, None, Duration::minutes(5));
    s.insert_passkey_challenge(&login).await.unwrap();
    let takes = futures_util::future::join_all((0..8).map(|_| {
        let (store, id) = (f.store.clone(), login.id.clone());
        tokio::spawn(async move { store.take_passkey_challenge(&id, now).await.unwrap() })
    }))
    .await;
    let taken: Vec<_> = takes.into_iter().filter_map(|t| t.unwrap()).collect();
    assert_eq!(taken, vec![login]);
    // Lapsed ones are purged; live ones stay.
    let short = passkey_challenge(PasskeyCeremony::Login, None, Duration::minutes(1));
    let long = passkey_challenge(PasskeyCeremony::Login, None, Duration::minutes(10));
    for c in [&short, &long] {
        s.insert_passkey_challenge(c).await.unwrap();
    }
    assert_eq!(
        s.purge_passkey_challenges(now + Duration::minutes(2))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.take_passkey_challenge(&short.id, now).await.unwrap(),
        None
    );
    assert_eq!(
        s.take_passkey_challenge(&long.id, now).await.unwrap(),
        Some(long)
    );
}

fn passkey(owner: &UserId, credential_id: &str, offset_ms: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: PasskeyId::new_random(),
        user_id: owner.clone(),
        credential_id: credential_id.into(),
        name: format!("key {credential_id}"),
        credential: format!("{{\"cred\":\"{credential_id}\"}}"),
        sign_count: 0,
        created_at: common::now() + Duration::milliseconds(offset_ms),
        last_used_at: None,
    }
}

async fn passkeys_are_unique_counted_and_owned(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (u, v) = (user("holder"), user("other"));
    for x in [&u, &v] {
        s.insert_user(x).await.unwrap();
    }
    let (first, second) = (passkey(&u.id, "A", 0), passkey(&u.id, "B", 10));
    assert!(s.insert_passkey(&second).await.unwrap());
    assert!(s.insert_passkey(&first).await.unwrap());
    // A credential id belongs to one passkey of one user.
    assert!(!s.insert_passkey(&passkey(&v.id, "A", 20)).await.unwrap());
    assert_eq!(
        s.list_passkeys(&u.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(s.list_passkeys(&v.id).await.unwrap(), vec![]);
    assert_eq!(
        s.find_passkey_by_credential("B").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(s.find_passkey_by_credential("C").await.unwrap(), None);

    // A use is recorded only over the counter it was checked against; racing uses of one
    // counter have one winner.
    let at = common::now() + Duration::minutes(1);
    let uses = futures_util::future::join_all((0..6).map(|i| {
        let (store, id) = (f.store.clone(), first.id.clone());
        tokio::spawn(async move {
            store
                .record_passkey_use(&id, 0, &format!("{{\"use\":{i}}}"), 3, at)
                .await
                .unwrap()
        })
    }))
    .await;
    assert_eq!(uses.into_iter().filter(|w| *w.as_ref().unwrap()).count(), 1);
    let used = s.find_passkey_by_credential("A").await.unwrap().unwrap();
    assert_eq!((used.sign_count, used.last_used_at), (3, Some(at)));
    assert!(
        used.credential.starts_with("{\"use\":"),
        "{}",
        used.credential
    );
    assert!(
        !s.record_passkey_use(&first.id, 0, "{}", 4, at)
            .await
            .unwrap()
    );
    assert!(
        s.record_passkey_use(&first.id, 3, "{}", 4, at)
            .await
            .unwrap()
    );

    // Deleted only by its owner; then its credential id is free again.
    assert!(!s.delete_passkey(&v.id, &first.id).await.unwrap());
    assert!(s.delete_passkey(&u.id, &first.id).await.unwrap());
    assert!(!s.delete_passkey(&u.id, &first.id).await.unwrap());
    assert_eq!(s.find_passkey_by_credential("A").await.unwrap(), None);
    assert_eq!(s.list_passkeys(&u.id).await.unwrap(), vec![second]);
    assert!(
        !s.record_passkey_use(&first.id, 4, "{}", 5, at)
            .await
            .unwrap()
    );
    assert!(s.insert_passkey(&passkey(&v.id, "A", 30)).await.unwrap());
}

/// Generation jobs and quiz events: the same contract, kept in a file of its own.
mod jobs;
mod reviews;

/// Stream leases: the same contract, kept in a file of its own.
mod streams;

/// Study materials: the same contract, kept in a file of its own.
mod materials;

/// Sign-in requests by e-mail: the same contract, kept in a file of its own.
mod sign_in;

/// Social sign-in: the same contract, kept in a file of its own.
mod social;

/// Erasing an account: a walk over every table and collection.
mod erasure;

/// Changes of e-mail address: the same contract, kept in a file of its own.
mod email_changes;

/// `user` signing up the guest `guest` in place: its id, their name and address.
fn signed_up_guest(guest: &UserRecord, user: UserRecord) -> UserRecord {
    UserRecord {
        id: guest.id.clone(),
        ..user
    }
}

async fn guests_sign_up_in_place(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = common::now();
    let (guest, other) = (UserRecord::new_guest(now), UserRecord::new_guest(now));
    // Guests share no key (each has a placeholder address key of its own).
    assert_eq!(s.insert_user_replacing_pending(&guest).await.unwrap(), 0);
    assert_eq!(s.insert_user_replacing_pending(&other).await.unwrap(), 0);
    assert_eq!(s.find_user(&guest.id).await.unwrap(), Some(guest.clone()));
    assert!(guest.is_guest() && guest.is_active);
    assert_eq!(
        s.find_user_by_username(&guest.username_norm).await.unwrap(),
        Some(guest.clone())
    );
    assert_eq!(s.find_user_by_email("").await.unwrap(), None);

    // Signing up in place replaces a pending holder of the name, and keeps the id.
    let squatter = user("ada");
    s.insert_user(&squatter).await.unwrap();
    let ada = signed_up_guest(&guest, user("ada"));
    assert!(s.upgrade_guest(&ada).await.unwrap());
    assert_eq!(s.find_user(&squatter.id).await.unwrap(), None);
    assert_eq!(s.find_user(&guest.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(
        s.find_user_by_email("ada@example.com").await.unwrap(),
        Some(ada.clone())
    );
    // Once only: it is no guest any more.
    assert!(!s.upgrade_guest(&ada).await.unwrap());
    // Not purged as a pending account: it owns data, so the guest sweep decides.
    assert_eq!(
        s.delete_pending_users(now + Duration::days(30))
            .await
            .unwrap(),
        0
    );
    assert!(s.activate_user(&ada.id).await.unwrap());

    // A verified holder blocks it, and nothing changes.
    let taken = signed_up_guest(&other, with_email_norm(user("ada"), "ada2@example.com"));
    assert!(matches!(
        s.upgrade_guest(&taken).await,
        Err(store::StoreError::Conflict(UniqueField::Username))
    ));
    let taken = signed_up_guest(&other, with_email_norm(user("bob"), "ada@example.com"));
    assert!(matches!(
        s.upgrade_guest(&taken).await,
        Err(store::StoreError::Conflict(UniqueField::Email))
    ));
    assert_eq!(s.find_user(&other.id).await.unwrap(), Some(other.clone()));
    // A pending sign-up of that guest's new name replaces it, data and all (see below).
    let carol = signed_up_guest(&other, user("carol"));
    assert!(s.upgrade_guest(&carol).await.unwrap());
    let q = quiz(&other.id, 0);
    s.insert_quiz(&q).await.unwrap();
    assert_eq!(
        s.insert_user_replacing_pending(&user("carol"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.find_user(&other.id).await.unwrap(), None);
    assert_eq!(quiz_count(&**s, &other.id).await, 0);
}

async fn idle_guests_go_with_their_data(backend: Backend) {
    use quiz_llm::domain::{
        DesiredRetention, GenerationJobRecord, JobInput, Rating, ReviewCardRecord,
    };
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = common::now();
    let cutoff = now - Duration::days(7);
    let old = |u: UserRecord| UserRecord {
        created_at: now - Duration::days(8),
        ..u
    };
    // Idle: made long ago, its session neither made nor refreshed since the cutoff.
    let idle = old(UserRecord::new_guest(now));
    // Made long ago, but refreshed a minute ago.
    let active = old(UserRecord::new_guest(now));
    // New.
    let fresh = UserRecord::new_guest(now);
    // Signed up long ago and never confirmed: still the sweep's.
    let unconfirmed = old(UserRecord::new_guest(now));
    // Accounts are never swept.
    let account = UserRecord {
        is_active: true,
        ..old(user("kept"))
    };
    for u in [&idle, &active, &fresh, &unconfirmed, &account] {
        s.insert_user_replacing_pending(u).await.unwrap();
    }
    assert!(
        s.upgrade_guest(&old(signed_up_guest(&unconfirmed, user("late"))))
            .await
            .unwrap()
    );
    let stale = SessionRecord {
        created_at: now - Duration::days(8),
        last_refreshed_at: Some(now - Duration::days(7) - Duration::minutes(1)),
        ..session(0)
    };
    s.add_session(&idle.id, &stale).await.unwrap();
    let refreshed = SessionRecord {
        created_at: now - Duration::days(8),
        ..session(0)
    };
    s.add_session(&active.id, &refreshed).await.unwrap();
    assert!(
        s.rotate_refresh_token(
            &active.id,
            &refreshed.id,
            &refreshed.refresh_token,
            &rotation(
                &RefreshToken::new("rt-new".into()),
                now - Duration::minutes(1)
            ),
        )
        .await
        .unwrap()
    );
    let job_input = JobInput {
        topic: "t".into(),
        source_text: None,
        question_count: 1,
        choice_count: 2,
        difficulty: Difficulty::Easy,
        language: "en".into(),
        origin: Default::default(),
        answer_type: None,
    };
    let mut owned = Vec::new();
    for u in [&idle, &active, &unconfirmed, &account] {
        let q = quiz(&u.id, 0);
        s.insert_quiz(&q).await.unwrap();
        let r = result_of(&q, 0);
        s.insert_result(&r).await.unwrap();
        let job = GenerationJobRecord::queued(u.id.clone(), job_input.clone(), now);
        assert!(s.insert_job(&job, 3).await.unwrap());
        let mut card = ReviewCardRecord::new(&u.id, &q.id, &q.title, "en", &q.questions[0], now);
        let log = card.review(Rating::Again, false, now, DesiredRetention::DEFAULT);
        s.save_review(&card, &log).await.unwrap();
        s.set_desired_retention(&u.id, 0.8).await.unwrap();
        owned.push((u.id.clone(), q.id, r.id, job.id, card.id));
    }

    let mut gone = s.delete_idle_guests(cutoff).await.unwrap();
    gone.sort();
    let mut expected = vec![idle.id.clone(), unconfirmed.id.clone()];
    expected.sort();
    assert_eq!(gone, expected);
    for (owner, quiz_id, result_id, job_id, card_id) in owned {
        let swept = expected.contains(&owner);
        assert_eq!(s.find_user(&owner).await.unwrap().is_none(), swept);
        assert_eq!(
            s.find_quiz(&owner, &quiz_id).await.unwrap().is_none(),
            swept
        );
        assert_eq!(
            s.find_result(&owner, &result_id).await.unwrap().is_none(),
            swept
        );
        assert_eq!(s.find_job(&owner, &job_id).await.unwrap().is_none(), swept);
        assert_eq!(
            s.find_review_card(&owner, &card_id)
                .await
                .unwrap()
                .is_none(),
            swept
        );
        let logs = s.review_logs_since(&owner, cutoff).await.unwrap();
        assert_eq!(logs.is_empty(), swept);
        assert_eq!(s.desired_retention(&owner).await.unwrap().is_none(), swept);
        assert_eq!(s.find_session(&owner, &stale.id).await.unwrap(), None);
    }
    assert!(s.find_user(&fresh.id).await.unwrap().is_some());
    assert!(s.delete_idle_guests(cutoff).await.unwrap().is_empty());
}

async fn sessions_keep_their_sign_in_method(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let u = user("methodical");
    f.store.insert_user(&u).await.unwrap();
    let mut expected = Vec::new();
    for (i, method) in [
        SignInMethod::Password,
        SignInMethod::Passkey,
        SignInMethod::Mfa,
        SignInMethod::Guest,
    ]
    .into_iter()
    .enumerate()
    {
        let s = SessionRecord {
            method,
            ..session(i as i64)
        };
        f.store.add_session(&u.id, &s).await.unwrap();
        expected.insert(0, s);
    }
    let guest = expected[0].clone();
    assert!(
        f.store
            .rotate_refresh_token(
                &u.id,
                &guest.id,
                &guest.refresh_token,
                &rotation(&RefreshToken::new("rt-rotated".into()), common::now()),
            )
            .await
            .unwrap()
    );
    let listed = f.store.list_sessions(&u.id, common::now()).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.method).collect::<Vec<_>>(),
        [
            SignInMethod::Guest,
            SignInMethod::Mfa,
            SignInMethod::Passkey,
            SignInMethod::Password
        ]
    );
    assert_eq!(
        f.store
            .find_session(&u.id, &guest.id)
            .await
            .unwrap()
            .unwrap()
            .method,
        SignInMethod::Guest
    );
}
