//! Review cards (`review_cards`), their logs (`review_logs`) and each user's desired retention
//! (`review_settings`). The record rides whole in `card` or `log`, beside the fields that are
//! filtered and sorted on.

use serde::Serialize;

use crate::domain::{QuizId, ReviewCardId, ReviewCardRecord, ReviewLogRecord};
use crate::store::{ReviewStore, day_number};

use super::*;

#[derive(Serialize, Deserialize)]
struct CardDoc {
    #[serde(rename = "_id")]
    id: ReviewCardId,
    owner_id: UserId,
    quiz_id: QuizId,
    question_number: i64,
    #[serde(with = "bson_time")]
    due: DateTime<Utc>,
    card: ReviewCardRecord,
}

impl CardDoc {
    /// The stored id is the card's, whichever write made it.
    fn record(self) -> ReviewCardRecord {
        ReviewCardRecord {
            id: self.id,
            ..self.card
        }
    }
}

#[derive(Serialize, Deserialize)]
struct LogDoc {
    #[serde(rename = "_id")]
    id: String,
    owner_id: UserId,
    day: i64,
    #[serde(with = "bson_time")]
    reviewed_at: DateTime<Utc>,
    log: ReviewLogRecord,
}

impl MongoStore {
    fn review_cards(&self) -> Collection<CardDoc> {
        self.db.collection("review_cards")
    }

    fn review_logs(&self) -> Collection<LogDoc> {
        self.db.collection("review_logs")
    }

    /// Keyed by `_id`, with `owner_id` too so a user's data goes by one filter.
    fn review_settings(&self) -> Collection<Document> {
        self.db.collection("review_settings")
    }

    pub(super) async fn create_review_indexes(&self) -> anyhow::Result<()> {
        let index = |keys: Document, name: &str, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_owned())
                        .unique(unique)
                        .build(),
                )
                .build()
        };
        self.review_cards()
            .create_indexes([
                index(
                    doc! { "owner_id": 1, "quiz_id": 1, "question_number": 1 },
                    "review_cards_by_question",
                    true,
                ),
                index(
                    doc! { "owner_id": 1, "due": 1, "_id": 1 },
                    "review_cards_by_owner_due",
                    false,
                ),
            ])
            .await
            .context("creating MongoDB indexes on review_cards")?;
        self.review_logs()
            .create_indexes([
                index(
                    doc! { "owner_id": 1, "reviewed_at": 1 },
                    "review_logs_by_owner",
                    false,
                ),
                index(
                    doc! { "owner_id": 1, "day": 1 },
                    "review_logs_by_owner_day",
                    false,
                ),
            ])
            .await
            .context("creating MongoDB indexes on review_logs")?;
        self.review_settings()
            .create_index(index(
                doc! { "owner_id": 1 },
                "review_settings_by_owner",
                false,
            ))
            .await
            .context("creating MongoDB indexes on review_settings")?;
        Ok(())
    }

    /// What a user's data takes with it from here.
    pub(super) async fn delete_owned_reviews(&self, owned: &Document) -> StoreResult<()> {
        self.review_cards()
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        self.review_logs()
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        self.review_settings()
            .delete_many(owned.clone())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl ReviewStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_review_card", db.system.name = SYSTEM, db.operation.name = "find_review_card"))]
    async fn find_review_card(
        &self,
        owner: &UserId,
        id: &ReviewCardId,
    ) -> StoreResult<Option<ReviewCardRecord>> {
        Ok(self
            .review_cards()
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(CardDoc::record))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_review_cards_of_quiz", db.system.name = SYSTEM, db.operation.name = "find_review_cards_of_quiz"))]
    async fn find_review_cards_of_quiz(
        &self,
        owner: &UserId,
        quiz: &QuizId,
    ) -> StoreResult<Vec<ReviewCardRecord>> {
        let cursor = self
            .review_cards()
            .find(doc! { "owner_id": owner.as_str(), "quiz_id": quiz.as_str() })
            .await
            .map_err(map_err)?;
        let docs: Vec<CardDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(CardDoc::record).collect())
    }

    /// Two writes without a transaction (the test server runs none): the card first, only if
    /// nobody reviewed it since it was read, then its log; a log missing after a failure in
    /// between leaves the statistics one review short, never the schedule wrong.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store save_review", db.system.name = SYSTEM, db.operation.name = "save_review"))]
    async fn save_review(
        &self,
        card: &ReviewCardRecord,
        log: &ReviewLogRecord,
    ) -> StoreResult<bool> {
        let written = if log.reps_before == 0 {
            let inserted = self
                .review_cards()
                .insert_one(CardDoc {
                    id: card.id.clone(),
                    owner_id: card.owner.clone(),
                    quiz_id: card.quiz_id.clone(),
                    question_number: i64::from(card.question.number),
                    due: card.due,
                    card: card.clone(),
                })
                .await;
            match inserted {
                Ok(_) => true,
                Err(err) if is_duplicate_key(&err) => false,
                Err(err) => return Err(map_err(err)),
            }
        } else {
            self.review_cards()
                .update_one(
                    doc! {
                        "_id": card.id.as_str(),
                        "owner_id": card.owner.as_str(),
                        "card.reps": i64::from(log.reps_before),
                    },
                    doc! { "$set": { "due": to_bson(card.due), "card": to_doc(card)? } },
                )
                .await
                .map_err(map_err)?
                .matched_count
                == 1
        };
        if !written {
            return Ok(false);
        }
        self.review_logs()
            .insert_one(LogDoc {
                id: log.id.to_string(),
                owner_id: log.owner.clone(),
                day: day_number(log.reviewed_at),
                reviewed_at: log.reviewed_at,
                log: log.clone(),
            })
            .await
            .map_err(map_err)?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store due_review_cards", db.system.name = SYSTEM, db.operation.name = "due_review_cards"))]
    async fn due_review_cards(
        &self,
        owner: &UserId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<ReviewCardRecord>> {
        let cursor = self
            .review_cards()
            .find(doc! { "owner_id": owner.as_str(), "due": { "$lte": to_bson(now) } })
            .sort(doc! { "due": 1, "_id": 1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<CardDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(CardDoc::record).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_due_review_cards", db.system.name = SYSTEM, db.operation.name = "count_due_review_cards"))]
    async fn count_due_review_cards(&self, owner: &UserId, at: DateTime<Utc>) -> StoreResult<u64> {
        self.review_cards()
            .count_documents(doc! { "owner_id": owner.as_str(), "due": { "$lte": to_bson(at) } })
            .await
            .map_err(map_err)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_review_card", db.system.name = SYSTEM, db.operation.name = "delete_review_card"))]
    async fn delete_review_card(&self, owner: &UserId, id: &ReviewCardId) -> StoreResult<bool> {
        let result = self
            .review_cards()
            .delete_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store review_logs_since", db.system.name = SYSTEM, db.operation.name = "review_logs_since"))]
    async fn review_logs_since(
        &self,
        owner: &UserId,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<ReviewLogRecord>> {
        let cursor = self
            .review_logs()
            .find(doc! { "owner_id": owner.as_str(), "reviewed_at": { "$gte": to_bson(since) } })
            .sort(doc! { "reviewed_at": 1, "_id": 1 })
            .await
            .map_err(map_err)?;
        let docs: Vec<LogDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(|d| d.log).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store review_days", db.system.name = SYSTEM, db.operation.name = "review_days"))]
    async fn review_days(&self, owner: &UserId, since_day: i64) -> StoreResult<Vec<i64>> {
        let days = self
            .review_logs()
            .distinct(
                "day",
                doc! { "owner_id": owner.as_str(), "day": { "$gte": since_day } },
            )
            .await
            .map_err(map_err)?;
        let mut days = days
            .iter()
            .map(|d| {
                d.as_i64()
                    .or_else(|| d.as_i32().map(i64::from))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("review day {d} is not a number").into())
                    })
            })
            .collect::<StoreResult<Vec<i64>>>()?;
        days.sort_unstable_by(|a, b| b.cmp(a));
        Ok(days)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store desired_retention", db.system.name = SYSTEM, db.operation.name = "desired_retention"))]
    async fn desired_retention(&self, owner: &UserId) -> StoreResult<Option<f64>> {
        let found = self
            .review_settings()
            .find_one(doc! { "_id": owner.as_str() })
            .await
            .map_err(map_err)?;
        found
            .map(|d| {
                d.get_f64("desired_retention")
                    .map_err(|e| StoreError::Corrupt(format!("desired retention: {e}").into()))
            })
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_desired_retention", db.system.name = SYSTEM, db.operation.name = "set_desired_retention"))]
    async fn set_desired_retention(&self, owner: &UserId, value: f64) -> StoreResult<()> {
        self.review_settings()
            .update_one(
                doc! { "_id": owner.as_str() },
                doc! { "$set": { "owner_id": owner.as_str(), "desired_retention": value } },
            )
            .upsert(true)
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
