//! Sign-in requests: one per address, taken once by their link, their code attempts counted
//! exactly under races, and neither used after they lapse; on every store.

use chrono::Duration;
use quiz_llm::domain::{EmailAddress, Locale, SIGN_IN_CODE_ATTEMPTS, SignInRequestRecord, UserId};

use super::{Backend, open};

pub(super) fn request(
    address: &str,
    user: Option<UserId>,
    expires_in: Duration,
) -> SignInRequestRecord {
    let now = crate::common::now();
    SignInRequestRecord {
        email: EmailAddress::from_stored(address.to_owned()),
        email_norm: address.to_lowercase(),
        user_id: user,
        token_hash: format!("token-{}", uuid::Uuid::new_v4()),
        code_hash: format!("code-{}", uuid::Uuid::new_v4()),
        return_to: Some("http://quiz.test/after".into()),
        locale: Locale::Ko,
        codes_left: SIGN_IN_CODE_ATTEMPTS,
        created_at: now,
        expires_at: now + expires_in,
    }
}

on_every_store!(
    sign_in_requests_are_one_per_address_and_taken_once,
    sign_in_code_attempts_are_counted_exactly,
    lapsed_sign_in_requests_are_neither_used_nor_kept,
);

async fn sign_in_requests_are_one_per_address_and_taken_once(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let first = request(
        "Ada@Example.com",
        Some(UserId::new_random()),
        Duration::minutes(10),
    );
    s.put_sign_in_request(&first).await.unwrap();
    // A newer request for the address replaces the first: its link dies.
    let second = request("Ada@Example.com", None, Duration::minutes(10));
    s.put_sign_in_request(&second).await.unwrap();
    assert_eq!(
        s.take_sign_in_request(&first.token_hash, now)
            .await
            .unwrap(),
        None
    );
    // Racing takes of one link have one winner, which gets the request as stored.
    let takes = futures_util::future::join_all((0..8).map(|_| {
        let (store, hash) = (f.store.clone(), second.token_hash.clone());
        tokio::spawn(async move { store.take_sign_in_request(&hash, now).await.unwrap() })
    }))
    .await;
    let taken: Vec<_> = takes.into_iter().filter_map(|t| t.unwrap()).collect();
    assert_eq!(taken, vec![second.clone()]);
    // Taken by its link, its code is gone too.
    assert_eq!(
        s.spend_sign_in_code(&second.email_norm, now).await.unwrap(),
        None
    );
    assert!(
        !s.remove_sign_in_request(&second.email_norm, &second.token_hash)
            .await
            .unwrap()
    );
    // Other addresses keep theirs.
    let other = request("grace@example.com", None, Duration::minutes(10));
    s.put_sign_in_request(&other).await.unwrap();
    let third = request("ada@example.com", None, Duration::minutes(10));
    s.put_sign_in_request(&third).await.unwrap();
    // Removing needs the request's own token hash: an older one's removes nothing.
    assert!(
        !s.remove_sign_in_request(&third.email_norm, &second.token_hash)
            .await
            .unwrap()
    );
    assert!(
        s.remove_sign_in_request(&third.email_norm, &third.token_hash)
            .await
            .unwrap()
    );
    assert_eq!(
        s.take_sign_in_request(&third.token_hash, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_sign_in_request(&other.token_hash, now)
            .await
            .unwrap(),
        Some(other)
    );
}

async fn sign_in_code_attempts_are_counted_exactly(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let r = request("counted@example.com", None, Duration::minutes(10));
    s.put_sign_in_request(&r).await.unwrap();
    let spent = s
        .spend_sign_in_code(&r.email_norm, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(spent.codes_left, SIGN_IN_CODE_ATTEMPTS - 1);
    assert_eq!(
        SignInRequestRecord {
            codes_left: r.codes_left,
            ..spent
        },
        r,
        "returned as stored, with the attempt spent"
    );
    // Twenty racing attempts: only the attempts left get the request.
    let attempts = futures_util::future::join_all((0..20).map(|_| {
        let (store, key) = (f.store.clone(), r.email_norm.clone());
        tokio::spawn(async move { store.spend_sign_in_code(&key, now).await.unwrap() })
    }))
    .await;
    let mut left: Vec<u32> = attempts
        .into_iter()
        .filter_map(|a| a.unwrap())
        .map(|r| r.codes_left)
        .collect();
    left.sort_unstable();
    assert_eq!(left, (0..SIGN_IN_CODE_ATTEMPTS - 1).collect::<Vec<_>>());
    assert_eq!(
        s.spend_sign_in_code(&r.email_norm, now).await.unwrap(),
        None
    );
    // With no attempts left, the link is dead too.
    assert_eq!(
        s.take_sign_in_request(&r.token_hash, now).await.unwrap(),
        None
    );
    // A new request starts a new budget.
    let again = request("counted@example.com", None, Duration::minutes(10));
    s.put_sign_in_request(&again).await.unwrap();
    assert!(
        s.spend_sign_in_code(&again.email_norm, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.remove_sign_in_request(&again.email_norm, &again.token_hash)
            .await
            .unwrap()
    );
}

async fn lapsed_sign_in_requests_are_neither_used_nor_kept(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let short = request("short@example.com", None, Duration::minutes(1));
    let long = request("long@example.com", None, Duration::minutes(10));
    for r in [&short, &long] {
        s.put_sign_in_request(r).await.unwrap();
    }
    let later = now + Duration::minutes(2);
    assert_eq!(
        s.take_sign_in_request(&short.token_hash, later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.spend_sign_in_code(&short.email_norm, later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.purge_sign_in_requests(later).await.unwrap(), 1);
    // Purged, it is gone for good, even for a clock that reads earlier.
    assert_eq!(
        s.take_sign_in_request(&short.token_hash, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_sign_in_request(&long.token_hash, later)
            .await
            .unwrap(),
        Some(long)
    );
}
