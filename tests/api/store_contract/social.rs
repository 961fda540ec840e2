//! Social sign-in: started sign-ins are taken once and lapse; an identity links to one account
//! and an account has one link per provider; links go with their user. On every store.

use chrono::Duration;
use quiz_llm::{
    domain::{SocialLinkRecord, SocialLoginRecord, UserId},
    store::StoreFixtures,
};

use super::{Backend, open, user};

pub(super) fn login(
    state_hash: &str,
    link_to: Option<UserId>,
    expires_in: Duration,
) -> SocialLoginRecord {
    SocialLoginRecord {
        state_hash: state_hash.to_owned(),
        provider: "corp".into(),
        nonce: "nonce-1".into(),
        pkce_verifier: "verifier-1".into(),
        return_to: "http://quiz.test/after?tab=1".into(),
        link_to,
        expires_at: crate::common::now() + expires_in,
    }
}

pub(super) fn link(user: &UserId, provider: &str, subject: &str) -> SocialLinkRecord {
    SocialLinkRecord {
        user_id: user.clone(),
        provider: provider.into(),
        issuer: format!("https://{provider}.example"),
        subject: subject.into(),
        email: Some(format!("{subject}@example.com")),
        linked_at: crate::common::now(),
    }
}

on_every_store!(
    social_logins_are_taken_once_and_lapse,
    an_identity_links_one_account_and_an_account_one_identity_per_provider,
);

async fn social_logins_are_taken_once_and_lapse(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let started = login("state-a", Some(UserId::new_random()), Duration::minutes(10));
    s.insert_social_login(&started).await.unwrap();
    // Racing callbacks with one state: one gets the sign-in as stored, the others nothing.
    let takes = futures_util::future::join_all((0..8).map(|_| {
        let store = f.store.clone();
        tokio::spawn(async move { store.take_social_login("state-a", now).await.unwrap() })
    }))
    .await;
    let taken: Vec<_> = takes.into_iter().filter_map(|t| t.unwrap()).collect();
    assert_eq!(taken, vec![started]);
    // A lapsed one is never handed out, and the clean-up removes it.
    let lapsed = login("state-b", None, Duration::minutes(10));
    s.insert_social_login(&lapsed).await.unwrap();
    let later = now + Duration::minutes(11);
    assert_eq!(s.take_social_login("state-b", later).await.unwrap(), None);
    let current = login("state-c", None, Duration::minutes(20));
    s.insert_social_login(&current).await.unwrap();
    assert_eq!(s.purge_social_logins(later).await.unwrap(), 1);
    assert_eq!(
        s.take_social_login("state-c", later).await.unwrap(),
        Some(current)
    );
}

async fn an_identity_links_one_account_and_an_account_one_identity_per_provider(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (ada, bob) = (user("ada"), user("bob"));
    s.insert_user(&ada).await.unwrap();
    s.insert_user(&bob).await.unwrap();
    let ada_corp = link(&ada.id, "corp", "sub-1");
    assert!(s.insert_social_link(&ada_corp).await.unwrap());
    // The same identity for another account, or a second corp identity for ada: refused.
    assert!(
        !s.insert_social_link(&link(&bob.id, "corp", "sub-1"))
            .await
            .unwrap()
    );
    assert!(
        !s.insert_social_link(&link(&ada.id, "corp", "sub-2"))
            .await
            .unwrap()
    );
    assert!(
        s.insert_social_link(&link(&ada.id, "google", "sub-1"))
            .await
            .unwrap()
    );
    assert_eq!(
        s.find_social_link("https://corp.example", "sub-1")
            .await
            .unwrap(),
        Some(ada_corp.clone())
    );
    assert_eq!(
        s.find_social_link("https://corp.example", "sub-9")
            .await
            .unwrap(),
        None
    );
    let providers = |links: Vec<SocialLinkRecord>| {
        let mut p: Vec<String> = links.into_iter().map(|l| l.provider).collect();
        p.sort();
        p
    };
    assert_eq!(
        providers(s.list_social_links(&ada.id).await.unwrap()),
        ["corp", "google"]
    );
    assert!(s.list_social_links(&bob.id).await.unwrap().is_empty());
    // Unlinking frees the identity for another account.
    assert!(s.delete_social_link(&ada.id, "corp").await.unwrap());
    assert!(!s.delete_social_link(&ada.id, "corp").await.unwrap());
    assert!(
        s.insert_social_link(&link(&bob.id, "corp", "sub-1"))
            .await
            .unwrap()
    );
    assert_eq!(
        providers(s.list_social_links(&ada.id).await.unwrap()),
        ["google"]
    );
}
