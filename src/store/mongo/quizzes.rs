//! Quizzes and graded results.

use super::*;

#[async_trait]
impl QuizStore for MongoStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_quiz", db.system.name = SYSTEM, db.operation.name = "insert_quiz"))]
    async fn insert_quiz(&self, quiz: &QuizRecord) -> StoreResult<()> {
        self.quizzes
            .insert_one(QuizDoc(quiz.clone()))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_quiz", db.system.name = SYSTEM, db.operation.name = "find_quiz"))]
    async fn find_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<Option<QuizRecord>> {
        Ok(self
            .quizzes
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(|QuizDoc(q)| q))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_quiz_keys", db.system.name = SYSTEM, db.operation.name = "list_quiz_keys"))]
    async fn list_quiz_keys(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<QuizKeyPage> {
        let filter = page_filter(doc! { "owner_id": owner.as_str() }, "created_at", after);
        let keys = async {
            let cursor = self
                .quizzes
                .clone_with_type::<QuizKeyDoc>()
                .find(filter)
                .projection(doc! { "_id": 1, "created_at": 1 })
                .sort(doc! { "created_at": -1, "_id": -1 })
                .limit(limit as i64)
                .await?;
            cursor.try_collect::<Vec<QuizKeyDoc>>().await
        };
        let total = self
            .quizzes
            .count_documents(doc! { "owner_id": owner.as_str() });
        let (docs, total) = tokio::try_join!(keys, total.into_future()).map_err(map_err)?;
        Ok(QuizKeyPage {
            keys: docs.into_iter().map(QuizKey::from).collect(),
            total,
        })
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_quizzes", db.system.name = SYSTEM, db.operation.name = "find_quizzes"))]
    async fn find_quizzes(&self, owner: &UserId, ids: &[QuizId]) -> StoreResult<Vec<QuizRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(QuizId::as_str).collect();
        let cursor = self
            .quizzes
            .find(doc! { "owner_id": owner.as_str(), "_id": { "$in": ids } })
            .await
            .map_err(map_err)?;
        let docs: Vec<QuizDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(|QuizDoc(q)| q).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_quiz", db.system.name = SYSTEM, db.operation.name = "delete_quiz"))]
    async fn delete_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<bool> {
        let result = self
            .quizzes
            .delete_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?;
        Ok(result.deleted_count == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_result", db.system.name = SYSTEM, db.operation.name = "insert_result"))]
    async fn insert_result(&self, result: &QuizResultRecord) -> StoreResult<()> {
        self.results
            .insert_one(ResultDoc(result.clone()))
            .await
            .map_err(map_err)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_result", db.system.name = SYSTEM, db.operation.name = "find_result"))]
    async fn find_result(
        &self,
        owner: &UserId,
        id: &ResultId,
    ) -> StoreResult<Option<QuizResultRecord>> {
        Ok(self
            .results
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(|ResultDoc(r)| r))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_results", db.system.name = SYSTEM, db.operation.name = "list_results"))]
    async fn list_results(
        &self,
        owner: &UserId,
        quiz: Option<&QuizId>,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizResultRecord>> {
        let mut filter = doc! { "owner_id": owner.as_str() };
        if let Some(quiz) = quiz {
            filter.insert("quiz_id", quiz.as_str());
        }
        let cursor = self
            .results
            .find(page_filter(filter, "submitted_at", after))
            .sort(doc! { "submitted_at": -1, "_id": -1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?;
        let docs: Vec<ResultDoc> = cursor.try_collect().await.map_err(map_err)?;
        Ok(docs.into_iter().map(|ResultDoc(r)| r).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_results", db.system.name = SYSTEM, db.operation.name = "count_results"))]
    async fn count_results(&self, owner: &UserId, quiz: Option<&QuizId>) -> StoreResult<u64> {
        let mut filter = doc! { "owner_id": owner.as_str() };
        if let Some(quiz) = quiz {
            filter.insert("quiz_id", quiz.as_str());
        }
        self.results.count_documents(filter).await.map_err(map_err)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_feedback", db.system.name = SYSTEM, db.operation.name = "set_feedback"))]
    async fn set_feedback(
        &self,
        owner: &UserId,
        id: &ResultId,
        feedback: &FeedbackRecord,
    ) -> StoreResult<bool> {
        let result = self
            .results
            .update_one(
                doc! { "_id": id.as_str(), "owner_id": owner.as_str(), "feedback": null },
                doc! { "$set": { "feedback": to_doc(feedback)? } },
            )
            .await
            .map_err(map_err)?;
        Ok(result.modified_count == 1)
    }
}
