//! Changes of e-mail address: one per account, each link used once and never after it lapses,
//! the address moved only from the one expected to one no verified account holds, and the
//! change swept with the guest it belongs to; on every store.

use chrono::Duration;
use quiz_llm::{
    domain::{EmailAddress, EmailChangeRecord, UserId, UserRecord},
    store::{StoreError, StoreFixtures, UniqueField},
};

use super::{Backend, open, user};

pub(super) fn change(user: &UserId, new: &str) -> EmailChangeRecord {
    let now = crate::common::now();
    EmailChangeRecord {
        user_id: user.clone(),
        old_email: EmailAddress::from_stored("Old@Example.com".into()),
        old_email_norm: "old@example.com".into(),
        new_email: EmailAddress::from_stored(new.to_owned()),
        new_email_norm: new.to_lowercase(),
        confirm_token_hash: Some(format!("confirm-{}", uuid::Uuid::new_v4())),
        undo_token_hash: format!("undo-{}", uuid::Uuid::new_v4()),
        created_at: now,
        confirm_expires_at: now + Duration::hours(24),
        expires_at: now + Duration::days(7),
        confirmed_at: None,
    }
}

fn confirm_hash(c: &EmailChangeRecord) -> String {
    c.confirm_token_hash.clone().expect("a confirmation link")
}

on_every_store!(
    email_changes_are_one_per_account_and_each_link_works_once,
    lapsed_email_change_links_do_nothing_and_are_purged,
    an_address_moves_only_from_the_expected_one_to_a_free_one,
    an_idle_guest_takes_its_email_change_along,
);

async fn email_changes_are_one_per_account_and_each_link_works_once(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let id = UserId::new_random();
    let first = change(&id, "first@example.com");
    s.put_email_change(&first).await.unwrap();
    // A newer request replaces the first: both its links die.
    let second = change(&id, "Second@Example.com");
    s.put_email_change(&second).await.unwrap();
    assert_eq!(
        s.find_email_change(&id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        s.find_email_change(&UserId::new_random()).await.unwrap(),
        None
    );
    assert_eq!(
        s.use_email_change_confirmation(&confirm_hash(&first), now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_email_change_undo(&first.undo_token_hash, now)
            .await
            .unwrap(),
        None
    );
    // Racing confirmations have one winner, which gets the change as stored.
    let uses = futures_util::future::join_all((0..8).map(|_| {
        let (store, hash) = (f.store.clone(), confirm_hash(&second));
        tokio::spawn(async move {
            store
                .use_email_change_confirmation(&hash, now)
                .await
                .unwrap()
        })
    }))
    .await;
    let used: Vec<_> = uses.into_iter().filter_map(|u| u.unwrap()).collect();
    assert_eq!(used, vec![second.clone()]);
    // Confirmed once, by its own account and undo hash only.
    let at = now + Duration::minutes(3);
    assert!(
        !s.mark_email_change_confirmed(&UserId::new_random(), &second.undo_token_hash, at)
            .await
            .unwrap()
    );
    assert!(
        !s.mark_email_change_confirmed(&id, &first.undo_token_hash, at)
            .await
            .unwrap()
    );
    assert!(
        s.mark_email_change_confirmed(&id, &second.undo_token_hash, at)
            .await
            .unwrap()
    );
    assert!(
        !s.mark_email_change_confirmed(&id, &second.undo_token_hash, at)
            .await
            .unwrap()
    );
    // Racing undos have one winner, which sees the change confirmed and its link used.
    let takes = futures_util::future::join_all((0..8).map(|_| {
        let (store, hash) = (f.store.clone(), second.undo_token_hash.clone());
        tokio::spawn(async move { store.take_email_change_undo(&hash, now).await.unwrap() })
    }))
    .await;
    let taken: Vec<_> = takes.into_iter().filter_map(|t| t.unwrap()).collect();
    let expected = EmailChangeRecord {
        confirm_token_hash: None,
        confirmed_at: Some(at),
        ..second.clone()
    };
    assert_eq!(taken, vec![expected]);
    // Undone, it cannot be confirmed any more.
    assert!(
        !s.mark_email_change_confirmed(&id, &second.undo_token_hash, at)
            .await
            .unwrap()
    );
    // Another account's change is its own.
    let other = change(&UserId::new_random(), "other@example.com");
    s.put_email_change(&other).await.unwrap();
    let third = change(&id, "third@example.com");
    s.put_email_change(&third).await.unwrap();
    assert_eq!(
        s.take_email_change_undo(&other.undo_token_hash, now)
            .await
            .unwrap(),
        Some(other)
    );
    // An undo before the confirmation kills the confirmation link.
    assert!(
        s.take_email_change_undo(&third.undo_token_hash, now)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        s.use_email_change_confirmation(&confirm_hash(&third), now)
            .await
            .unwrap(),
        None
    );
}

async fn lapsed_email_change_links_do_nothing_and_are_purged(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let c = change(&UserId::new_random(), "new@example.com");
    let kept = change(&UserId::new_random(), "kept@example.com");
    for x in [&c, &kept] {
        s.put_email_change(x).await.unwrap();
    }
    // The confirmation link lapses after a day; the undo link still works for the week.
    let day_later = c.confirm_expires_at;
    assert_eq!(
        s.use_email_change_confirmation(&confirm_hash(&c), day_later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.purge_email_changes(day_later).await.unwrap(), 0);
    // Both lapsed: each record read the clock when it was made.
    let week_later = c.expires_at.max(kept.expires_at);
    assert_eq!(
        s.take_email_change_undo(&c.undo_token_hash, week_later)
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.purge_email_changes(week_later).await.unwrap(), 2);
    assert_eq!(
        s.take_email_change_undo(&kept.undo_token_hash, now)
            .await
            .unwrap(),
        None,
        "purged"
    );
}

async fn an_address_moves_only_from_the_expected_one_to_a_free_one(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let verified = |name: &str| UserRecord {
        is_active: true,
        ..user(name)
    };
    let (ada, grace, pending) = (verified("ada"), verified("grace"), user("pending"));
    for u in [&ada, &grace, &pending] {
        s.insert_user(u).await.unwrap();
    }
    let address = |raw: &str| EmailAddress::from_stored(raw.to_owned());
    // Not from an address the account no longer has.
    assert!(
        !s.change_user_email(
            &ada.id,
            "someone@example.com",
            &address("new@example.com"),
            "new@example.com"
        )
        .await
        .unwrap()
    );
    // Not to an address a verified account holds: nothing changes.
    let taken = s
        .change_user_email(
            &ada.id,
            "ada@example.com",
            &address("Grace@Example.com"),
            "grace@example.com",
        )
        .await;
    assert!(
        matches!(taken, Err(StoreError::Conflict(UniqueField::Email))),
        "{taken:?}"
    );
    let read = |id: &UserId| {
        let (s, id) = (f.store.clone(), id.clone());
        async move { s.find_user(&id).await.unwrap() }
    };
    assert_eq!(read(&ada.id).await, Some(ada.clone()));
    // A never-verified holder gives way, as to a sign-up.
    assert!(
        s.change_user_email(
            &ada.id,
            "ada@example.com",
            &address("Pending@Example.com"),
            "pending@example.com"
        )
        .await
        .unwrap()
    );
    assert_eq!(read(&pending.id).await, None);
    let moved = read(&ada.id).await.unwrap();
    let credentials = moved.credentials.as_ref().unwrap();
    assert_eq!(credentials.email.as_str(), "Pending@Example.com");
    assert_eq!(credentials.email_norm, "pending@example.com");
    assert!(moved.is_active, "the account stays verified");
    assert_eq!(
        s.find_user_by_email("pending@example.com")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id.clone())
    );
    assert_eq!(s.find_user_by_email("ada@example.com").await.unwrap(), None);
    // The old address is free again, and can come back.
    assert!(
        s.change_user_email(
            &ada.id,
            "pending@example.com",
            &address("ada@Example.com"),
            "ada@example.com"
        )
        .await
        .unwrap()
    );
    // A guest has no address to move.
    let guest = UserRecord::new_guest(crate::common::now());
    s.insert_user(&guest).await.unwrap();
    let guest_key = s.find_user(&guest.id).await.unwrap().unwrap();
    assert!(guest_key.credentials.is_none());
    assert!(
        !s.change_user_email(
            &guest.id,
            "",
            &address("guest@example.com"),
            "guest@example.com"
        )
        .await
        .unwrap()
    );
    assert_eq!(read(&guest.id).await, Some(guest));
}

async fn an_idle_guest_takes_its_email_change_along(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let idle = UserRecord {
        created_at: now - Duration::days(8),
        ..UserRecord::new_guest(now)
    };
    let kept = UserRecord {
        is_active: true,
        ..user("kept")
    };
    for u in [&idle, &kept] {
        s.insert_user(u).await.unwrap();
    }
    let (gone, stays) = (
        change(&idle.id, "idle@example.com"),
        change(&kept.id, "stays@example.com"),
    );
    for c in [&gone, &stays] {
        s.put_email_change(c).await.unwrap();
    }
    let swept = s.delete_idle_guests(now - Duration::days(7)).await.unwrap();
    assert_eq!(swept, vec![idle.id.clone()]);
    assert_eq!(
        s.take_email_change_undo(&gone.undo_token_hash, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_email_change_undo(&stays.undo_token_hash, now)
            .await
            .unwrap(),
        Some(stays)
    );
}
