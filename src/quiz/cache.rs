//! Decoded quizzes kept in memory for the pages that list them. A stored quiz never changes, so
//! a kept copy is never stale; which quizzes a page holds always comes from the store, so a quiz
//! deleted by any process is never listed from here (its copy only waits to be evicted).

use std::{collections::HashMap, sync::Arc};

use quick_cache::{Weighter, sync::Cache};

use crate::{
    domain::{QuizId, QuizKey, QuizRecord, UserId},
    store::{QuizStore, StoreResult},
};

/// A kept quiz and its size, worked out once.
#[derive(Clone)]
struct Kept {
    quiz: Arc<QuizRecord>,
    bytes: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<QuizId, Kept> for ByBytes {
    fn weight(&self, _: &QuizId, kept: &Kept) -> u64 {
        kept.bytes
    }
}

/// The size of a typical quiz, from which the number of entries is estimated.
const TYPICAL_QUIZ_BYTES: u64 = 2048;

pub struct QuizCache {
    /// `None` when configured to keep nothing.
    quizzes: Option<Cache<QuizId, Kept, ByBytes>>,
}

impl QuizCache {
    /// Keeps about `capacity_bytes` of quizzes (quick_cache's S3-FIFO decides which go); 0
    /// keeps none.
    pub fn new(capacity_bytes: u64) -> Self {
        let quizzes = (capacity_bytes > 0).then(|| {
            let typical = usize::try_from(capacity_bytes / TYPICAL_QUIZ_BYTES).unwrap_or(1);
            Cache::with_weighter(typical.max(1), capacity_bytes, ByBytes)
        });
        QuizCache { quizzes }
    }

    /// The owner's quizzes at `keys`, in their order: kept ones from memory, the others in one
    /// store read. A key whose quiz is gone by the time it is read (deleted meanwhile) is left
    /// out.
    pub async fn quizzes_at<S: QuizStore + ?Sized>(
        &self,
        store: &S,
        owner: &UserId,
        keys: &[QuizKey],
    ) -> StoreResult<Vec<Arc<QuizRecord>>> {
        let mut found: Vec<Option<Arc<QuizRecord>>> =
            keys.iter().map(|key| self.kept(owner, &key.id)).collect();
        let missing: Vec<QuizId> = keys
            .iter()
            .zip(&found)
            .filter(|(_, quiz)| quiz.is_none())
            .map(|(key, _)| key.id.clone())
            .collect();
        if !missing.is_empty() {
            let mut read: HashMap<QuizId, QuizRecord> = store
                .find_quizzes(owner, &missing)
                .await?
                .into_iter()
                .map(|quiz| (quiz.id.clone(), quiz))
                .collect();
            for (key, slot) in keys.iter().zip(&mut found) {
                if slot.is_none()
                    && let Some(quiz) = read.remove(&key.id)
                {
                    let quiz = Arc::new(quiz);
                    if let Some(cache) = &self.quizzes {
                        let bytes = weight(&quiz);
                        cache.insert(
                            key.id.clone(),
                            Kept {
                                quiz: quiz.clone(),
                                bytes,
                            },
                        );
                    }
                    *slot = Some(quiz);
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Checks the owner too, though a page's ids were already read for this owner.
    fn kept(&self, owner: &UserId, id: &QuizId) -> Option<Arc<QuizRecord>> {
        self.quizzes
            .as_ref()?
            .get(id)
            .map(|kept| kept.quiz)
            .filter(|quiz| quiz.owner == *owner)
    }
}

/// Roughly the bytes a kept quiz holds.
fn weight(quiz: &QuizRecord) -> u64 {
    use std::mem::size_of;
    let text = [&quiz.title, &quiz.description, &quiz.topic, &quiz.language]
        .iter()
        .map(|s| s.len())
        .sum::<usize>();
    let questions: usize = quiz
        .questions
        .iter()
        .map(|q| {
            size_of::<crate::domain::QuestionRecord>()
                + q.content.len()
                + q.explanation.as_ref().map_or(0, String::len)
                + q.source.as_ref().map_or(0, |s| s.excerpt.len())
                + q.choices
                    .iter()
                    .map(|c| size_of::<crate::domain::ChoiceRecord>() + c.content.len())
                    .sum::<usize>()
        })
        .sum();
    u64::try_from(size_of::<QuizRecord>() + text + questions).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn quiz(owner: &UserId) -> QuizRecord {
        QuizRecord::sample(QuizId::new_random(), owner.clone(), Utc::now())
    }

    fn key(quiz: &QuizRecord) -> QuizKey {
        QuizKey {
            id: quiz.id.clone(),
            created_at: quiz.created_at,
        }
    }

    /// Once read, a quiz comes from memory (here, even after the row is gone: callers take
    /// their keys from the store, so they never ask for a deleted one); with no memory, or
    /// for another owner, it never does.
    #[tokio::test]
    async fn kept_quizzes_are_served_to_their_owner_only() {
        let store = SqliteStore::open(None).await.unwrap();
        let (owner, other) = (UserId::new_random(), UserId::new_random());
        let (first, second) = (quiz(&owner), quiz(&owner));
        for q in [&first, &second] {
            store.insert_quiz(q).await.unwrap();
        }
        let keys = [key(&second), key(&first)];
        let (kept, none) = (QuizCache::new(1 << 20), QuizCache::new(0));
        for cache in [&kept, &none] {
            let read = cache.quizzes_at(&store, &owner, &keys).await.unwrap();
            let read: Vec<QuizRecord> = read.iter().map(|q| (**q).clone()).collect();
            assert_eq!(
                read,
                vec![second.clone(), first.clone()],
                "in the keys' order"
            );
        }
        assert!(store.delete_quiz(&owner, &first.id).await.unwrap());

        let read = kept.quizzes_at(&store, &owner, &keys).await.unwrap();
        assert_eq!(read.len(), 2, "both from memory");
        let read = none.quizzes_at(&store, &owner, &keys).await.unwrap();
        assert_eq!(read.len(), 1, "the deleted one is gone from the store");
        assert_eq!(*read[0], second);
        let read = kept.quizzes_at(&store, &other, &keys).await.unwrap();
        assert!(read.is_empty(), "another owner's keys find nothing");
    }
}
