//! Study materials: owned, paged without their text, held to a per-user quota that racing
//! uploads cannot pass, and gone with an idle guest; on every store.

use chrono::Duration;
use quiz_llm::domain::{
    MaterialId, MaterialQuota, MaterialSummary, MaterialUsage, MediaType, PageAfter,
    StudyMaterialRecord, UserId, UserRecord,
};
use quiz_llm::store::StoreFixtures;

use super::{Backend, open};

pub(super) fn material(owner: &UserId, text: &str, offset_ms: i64) -> StudyMaterialRecord {
    StudyMaterialRecord {
        summary: MaterialSummary {
            id: MaterialId::new_random(),
            owner: owner.clone(),
            title: format!("notes {offset_ms}"),
            media_type: MediaType::Pdf,
            page_count: Some(2),
            char_count: text.chars().count() as u32,
            created_at: crate::common::now() + Duration::milliseconds(offset_ms),
        },
        text: text.to_owned(),
        page_starts: vec![0, 2],
        sha256: "ab".repeat(32),
    }
}

const ROOMY: MaterialQuota = MaterialQuota {
    max_count: 100,
    max_chars: 1_000_000,
};

on_every_store!(
    materials_are_owned_and_paged_without_their_text,
    the_material_quota_counts_materials_and_characters,
    racing_uploads_stay_within_the_quota,
    idle_guests_go_with_their_materials,
);

async fn materials_are_owned_and_paged_without_their_text(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let (alice, bob) = (UserId::new_random(), UserId::new_random());
    let (old, new) = (material(&alice, "가나다라", 0), material(&alice, "abc", 10));
    for m in [&old, &new] {
        assert!(s.insert_material(m, ROOMY).await.unwrap());
    }
    let id = &old.summary.id;
    assert_eq!(
        s.find_material(&alice, id).await.unwrap(),
        Some(old.clone())
    );
    assert_eq!(s.find_material(&bob, id).await.unwrap(), None);

    let page = s.list_materials(&alice, None, 1).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items, std::slice::from_ref(&new.summary));
    let after = PageAfter {
        at: new.summary.created_at,
        id: new.summary.id.to_string(),
    };
    let rest = s.list_materials(&alice, Some(&after), 10).await.unwrap();
    assert_eq!(rest.items, std::slice::from_ref(&old.summary));
    assert_eq!(s.list_materials(&bob, None, 10).await.unwrap().total, 0);

    // Only the owner deletes, once; the usage follows.
    assert!(!s.delete_material(&bob, id).await.unwrap());
    assert!(s.delete_material(&alice, id).await.unwrap());
    assert!(!s.delete_material(&alice, id).await.unwrap());
    assert_eq!(s.find_material(&alice, id).await.unwrap(), None);
    assert_eq!(
        s.material_usage(&alice).await.unwrap(),
        MaterialUsage { count: 1, chars: 3 }
    );
}

async fn the_material_quota_counts_materials_and_characters(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let owner = UserId::new_random();
    let quota = MaterialQuota {
        max_count: 2,
        max_chars: 10,
    };
    assert!(
        !s.insert_material(&material(&owner, &"x".repeat(11), 0), quota)
            .await
            .unwrap()
    );
    let first = material(&owner, "123456", 1);
    assert!(s.insert_material(&first, quota).await.unwrap());
    // 6 + 5 characters would pass the character quota.
    assert!(
        !s.insert_material(&material(&owner, "12345", 2), quota)
            .await
            .unwrap()
    );
    assert!(
        s.insert_material(&material(&owner, "1234", 3), quota)
            .await
            .unwrap()
    );
    // Two materials are the most.
    assert!(
        !s.insert_material(&material(&owner, "", 4), quota)
            .await
            .unwrap()
    );
    assert_eq!(
        s.material_usage(&owner).await.unwrap(),
        MaterialUsage {
            count: 2,
            chars: 10
        }
    );
    // Another user has a quota of their own.
    let other = UserId::new_random();
    assert!(
        s.insert_material(&material(&other, "1", 5), quota)
            .await
            .unwrap()
    );
    // A deleted material gives its room back.
    assert!(s.delete_material(&owner, &first.summary.id).await.unwrap());
    assert!(
        s.insert_material(&material(&owner, "12345", 6), quota)
            .await
            .unwrap()
    );
    assert_eq!(s.list_materials(&owner, None, 10).await.unwrap().total, 2);
}

async fn racing_uploads_stay_within_the_quota(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let owner = UserId::new_random();
    let quota = MaterialQuota {
        max_count: 3,
        max_chars: 1_000,
    };
    let inserts = (0..12).map(|i| {
        let store = f.store.clone();
        let m = material(&owner, "abc", i);
        tokio::spawn(async move { store.insert_material(&m, quota).await.unwrap() })
    });
    let mut stored = 0;
    for insert in inserts {
        stored += usize::from(insert.await.unwrap());
    }
    assert_eq!(stored, 3);
    let page = f.store.list_materials(&owner, None, 20).await.unwrap();
    assert_eq!((page.items.len(), page.total), (3, 3));
}

async fn idle_guests_go_with_their_materials(backend: Backend) {
    let Some(f) = open(backend).await else { return };
    let s = &f.store;
    let now = crate::common::now();
    let guest = UserRecord::new_guest(now - Duration::days(10));
    s.insert_user(&guest).await.unwrap();
    let m = material(&guest.id, "text", 0);
    assert!(s.insert_material(&m, ROOMY).await.unwrap());
    let gone = s.delete_idle_guests(now - Duration::days(1)).await.unwrap();
    assert_eq!(gone, std::slice::from_ref(&guest.id));
    assert_eq!(
        s.find_material(&guest.id, &m.summary.id).await.unwrap(),
        None
    );
    assert_eq!(
        s.material_usage(&guest.id).await.unwrap(),
        MaterialUsage::default()
    );
}
