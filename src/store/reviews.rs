//! The learning loop's persistence: review cards, their logs, and each user's desired
//! retention, always scoped to their owner.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{QuizId, ReviewCardId, ReviewCardRecord, ReviewLogRecord, UserId};

/// A UTC day number (days since 1970-01-01), the unit of streaks.
pub fn day_number(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(86_400)
}

#[async_trait]
pub trait ReviewStore: Send + Sync {
    async fn find_review_card(
        &self,
        owner: &UserId,
        id: &ReviewCardId,
    ) -> StoreResult<Option<ReviewCardRecord>>;
    /// The owner's cards of one quiz's questions, in no particular order.
    async fn find_review_cards_of_quiz(
        &self,
        owner: &UserId,
        quiz: &QuizId,
    ) -> StoreResult<Vec<ReviewCardRecord>>;
    /// Writes the card as reviewed and its review's log, if nobody reviewed it since it was
    /// read: a card whose log says it had no reviews is new and inserted (one per owner, quiz
    /// and question), any other replaces the stored card only while that still has
    /// `log.reps_before` reviews. `false`, with nothing written, when it lost that race: the
    /// caller reads the card again and reviews that.
    async fn save_review(
        &self,
        card: &ReviewCardRecord,
        log: &ReviewLogRecord,
    ) -> StoreResult<bool>;
    /// The owner's cards due at `now`, most overdue first, `limit` at most.
    async fn due_review_cards(
        &self,
        owner: &UserId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<ReviewCardRecord>>;
    /// How many of the owner's cards are due at or before `at`.
    async fn count_due_review_cards(&self, owner: &UserId, at: DateTime<Utc>) -> StoreResult<u64>;
    /// `false` when the owner has no such card. Its logs stay, for the statistics.
    async fn delete_review_card(&self, owner: &UserId, id: &ReviewCardId) -> StoreResult<bool>;
    /// The owner's review logs at or after `since`, oldest first.
    async fn review_logs_since(
        &self,
        owner: &UserId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<ReviewLogRecord>>;
    /// The UTC days ([`day_number`]) at or after `since_day` on which the owner reviewed,
    /// newest first.
    async fn review_days(&self, owner: &UserId, since_day: i64) -> StoreResult<Vec<i64>>;
    /// `None` until the owner sets one.
    async fn desired_retention(&self, owner: &UserId) -> StoreResult<Option<f64>>;
    async fn set_desired_retention(&self, owner: &UserId, value: f64) -> StoreResult<()>;
}
