//! Review cards and logs, stored whole as JSON beside the columns filtered and sorted on.

use crate::domain::{QuizId, ReviewCardId, ReviewCardRecord, ReviewLogRecord};
use crate::store::{ReviewStore, day_number};

use super::*;

#[async_trait]
impl ReviewStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_review_card", db.system.name = SYSTEM, db.operation.name = "find_review_card"))]
    async fn find_review_card(
        &self,
        owner: &UserId,
        id: &ReviewCardId,
    ) -> StoreResult<Option<ReviewCardRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM review_cards WHERE id = ?1 AND owner_id = ?2")?
                .query_row([id, owner], from_json)
                .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_review_cards_of_quiz", db.system.name = SYSTEM, db.operation.name = "find_review_cards_of_quiz"))]
    async fn find_review_cards_of_quiz(
        &self,
        owner: &UserId,
        quiz: &QuizId,
    ) -> StoreResult<Vec<ReviewCardRecord>> {
        let (owner, quiz) = (owner.to_string(), quiz.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM review_cards WHERE owner_id = ?1 AND quiz_id = ?2")?
                .query_map([owner, quiz], from_json)?
                .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store save_review", db.system.name = SYSTEM, db.operation.name = "save_review"))]
    async fn save_review(
        &self,
        card: &ReviewCardRecord,
        log: &ReviewLogRecord,
    ) -> StoreResult<bool> {
        let (card, log) = (card.clone(), log.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let written = if log.reps_before == 0 {
                tx.prepare_cached(
                    "INSERT INTO review_cards (id, owner_id, quiz_id, question_number, due, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    card.id.as_str(),
                    card.owner.as_str(),
                    card.quiz_id.as_str(),
                    card.question.number,
                    millis(card.due),
                    to_json(&card)?
                ])?
            } else {
                tx.prepare_cached(
                    "UPDATE review_cards SET due = ?1, body = ?2 \
                     WHERE id = ?3 AND owner_id = ?4 AND json_extract(body, '$.reps') = ?5",
                )?
                .execute(params![
                    millis(card.due),
                    to_json(&card)?,
                    card.id.as_str(),
                    card.owner.as_str(),
                    log.reps_before
                ])?
            };
            if written == 0 {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO review_logs (id, owner_id, reviewed_at, day, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                log.id.as_str(),
                log.owner.as_str(),
                millis(log.reviewed_at),
                day_number(log.reviewed_at),
                to_json(&log)?
            ])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store due_review_cards", db.system.name = SYSTEM, db.operation.name = "due_review_cards"))]
    async fn due_review_cards(
        &self,
        owner: &UserId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<ReviewCardRecord>> {
        let owner = owner.to_string();
        let limit = limit_clause(limit);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT body FROM review_cards WHERE owner_id = ?1 AND due <= ?2 \
                 ORDER BY due, id{limit}"
            ))?
            .query_map(params![owner, millis(now)], from_json)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_due_review_cards", db.system.name = SYSTEM, db.operation.name = "count_due_review_cards"))]
    async fn count_due_review_cards(&self, owner: &UserId, at: DateTime<Utc>) -> StoreResult<u64> {
        let owner = owner.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM review_cards WHERE owner_id = ?1 AND due <= ?2")?
                .query_row(params![owner, millis(at)], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_review_card", db.system.name = SYSTEM, db.operation.name = "delete_review_card"))]
    async fn delete_review_card(&self, owner: &UserId, id: &ReviewCardId) -> StoreResult<bool> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            c.prepare_cached("DELETE FROM review_cards WHERE id = ?1 AND owner_id = ?2")?
                .execute([id, owner])
                .map(|n| n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store review_logs_since", db.system.name = SYSTEM, db.operation.name = "review_logs_since"))]
    async fn review_logs_since(
        &self,
        owner: &UserId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<ReviewLogRecord>> {
        let owner = owner.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT body FROM review_logs WHERE owner_id = ?1 AND reviewed_at >= ?2 \
                 ORDER BY reviewed_at, id",
            )?
            .query_map(params![owner, millis(since)], from_json)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store review_days", db.system.name = SYSTEM, db.operation.name = "review_days"))]
    async fn review_days(&self, owner: &UserId, since_day: i64) -> StoreResult<Vec<i64>> {
        let owner = owner.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT DISTINCT day FROM review_logs WHERE owner_id = ?1 AND day >= ?2 \
                 ORDER BY day DESC",
            )?
            .query_map(params![owner, since_day], |r| r.get(0))?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store desired_retention", db.system.name = SYSTEM, db.operation.name = "desired_retention"))]
    async fn desired_retention(&self, owner: &UserId) -> StoreResult<Option<f64>> {
        let owner = owner.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT desired_retention FROM review_settings WHERE owner_id = ?1")?
                .query_row([owner], |r| r.get(0))
                .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_desired_retention", db.system.name = SYSTEM, db.operation.name = "set_desired_retention"))]
    async fn set_desired_retention(&self, owner: &UserId, value: f64) -> StoreResult<()> {
        let owner = owner.to_string();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO review_settings (owner_id, desired_retention) VALUES (?1, ?2) \
                 ON CONFLICT (owner_id) DO UPDATE SET desired_retention = excluded.desired_retention",
            )?
            .execute(params![owner, value])?;
            Ok(())
        })
        .await
    }
}
