//! Stream leases: a per-user cap that holds for every process sharing the store, with leases
//! that lapse unless renewed, on every store.

use chrono::Duration;
use quiz_llm::domain::UserId;

use super::{Backend, open};

on_every_store!(
    stream_leases_are_capped_per_user,
    stream_leases_lapse_unless_renewed,
    racing_stream_leases_never_pass_the_cap,
);

async fn stream_leases_are_capped_per_user(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (alice, bob) = (UserId::new_random(), UserId::new_random());
    let now = crate::common::now();
    let until = now + Duration::minutes(1);
    for lease in ["a1", "a2"] {
        assert!(
            s.take_stream_lease(&alice, lease, 2, now, until)
                .await
                .unwrap()
        );
    }
    assert!(
        !s.take_stream_lease(&alice, "a3", 2, now, until)
            .await
            .unwrap()
    );
    // Another user counts apart.
    assert!(
        s.take_stream_lease(&bob, "b1", 2, now, until)
            .await
            .unwrap()
    );
    // A lease given back frees its place (once: giving it back again changes nothing).
    s.release_stream_lease(&alice, "a1").await.unwrap();
    s.release_stream_lease(&alice, "a1").await.unwrap();
    // Not someone else's.
    s.release_stream_lease(&bob, "a2").await.unwrap();
    assert!(
        s.take_stream_lease(&alice, "a3", 2, now, until)
            .await
            .unwrap()
    );
    assert!(
        !s.take_stream_lease(&alice, "a4", 2, now, until)
            .await
            .unwrap()
    );
}

async fn stream_leases_lapse_unless_renewed(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let user = UserId::new_random();
    let now = crate::common::now();
    let soon = now + Duration::seconds(10);
    assert!(
        s.take_stream_lease(&user, "kept", 2, now, soon)
            .await
            .unwrap()
    );
    assert!(
        s.take_stream_lease(&user, "dropped", 2, now, soon)
            .await
            .unwrap()
    );
    // Only "kept" is renewed; "dropped"'s process has died.
    let later = now + Duration::minutes(1);
    assert_eq!(
        s.renew_stream_leases(&["kept".to_owned(), "gone".to_owned()], later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.renew_stream_leases(&[], later).await.unwrap(), 0);
    let after = soon + Duration::seconds(1);
    assert!(
        s.take_stream_lease(&user, "new", 2, after, later)
            .await
            .unwrap()
    );
    // "kept" still counts.
    assert!(
        !s.take_stream_lease(&user, "more", 2, after, later)
            .await
            .unwrap()
    );
    // Lapsed leases are purged; live ones stay.
    let d = s.purge_stream_leases(after).await.unwrap();
    assert!(d <= 1, "{d}");
    assert!(
        !s.take_stream_lease(&user, "more", 2, after, later)
            .await
            .unwrap()
    );
    let past = later + Duration::seconds(1);
    assert!(s.purge_stream_leases(past).await.unwrap() >= 2);
    assert!(
        s.take_stream_lease(&user, "more", 2, past, past + Duration::minutes(1))
            .await
            .unwrap()
    );
}

async fn racing_stream_leases_never_pass_the_cap(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let user = UserId::new_random();
    let now = crate::common::now();
    let until = now + Duration::minutes(1);
    let taken = futures_util::future::join_all((0..12).map(|i| {
        let (store, user) = (f.store.clone(), user.clone());
        tokio::spawn(async move {
            store
                .take_stream_lease(&user, &format!("lease-{i}"), 3, now, until)
                .await
                .unwrap()
        })
    }))
    .await;
    let taken = taken.into_iter().filter(|t| *t.as_ref().unwrap()).count();
    assert_eq!(taken, 3);
}
