//! Quizzes and graded results, stored whole as JSON beside the columns filtered and sorted on.

use super::*;

/// Also used by a job that stores its quiz in the same transaction as its outcome.
pub(super) fn insert_quiz_row(c: &Connection, q: &QuizRecord) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO quizzes (id, owner_id, created_at, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        q.id.as_str(),
        q.owner.as_str(),
        millis(q.created_at),
        to_json(q)?
    ])?;
    Ok(())
}

#[async_trait]
impl QuizStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_quiz", db.system.name = SYSTEM, db.operation.name = "insert_quiz"))]
    async fn insert_quiz(&self, quiz: &QuizRecord) -> StoreResult<()> {
        let q = quiz.clone();
        self.run(move |c| insert_quiz_row(c, &q)).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_quiz", db.system.name = SYSTEM, db.operation.name = "find_quiz"))]
    async fn find_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<Option<QuizRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM quizzes WHERE id = ?1 AND owner_id = ?2")?
                .query_row([id, owner], from_json)
                .optional()
        })
        .await
    }

    /// One statement, read from the owner index alone, counts along (one read, one snapshot);
    /// only an empty page needs the count asked for on its own.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_quiz_keys", db.system.name = SYSTEM, db.operation.name = "list_quiz_keys"))]
    async fn list_quiz_keys(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<QuizKeyPage> {
        let (clause, mut args) = page_clause("created_at", after);
        let owner = owner.to_string();
        args.insert(0, owner.clone().into());
        let limit = limit_clause(limit);
        self.read(move |c| {
            let mut total = None;
            let keys = c
                .prepare_cached(&format!(
                    "SELECT id, created_at, (SELECT COUNT(*) FROM quizzes WHERE owner_id = ?1) \
                     FROM quizzes WHERE owner_id = ?1{clause} \
                     ORDER BY created_at DESC, id DESC{limit}"
                ))?
                .query_map(rusqlite::params_from_iter(args), |row| {
                    total = Some(row.get::<_, i64>(2)?);
                    Ok(QuizKey {
                        id: id_at(row, 0)?,
                        created_at: time_at(row, 1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total = match total {
                Some(total) => total,
                None => c
                    .prepare_cached("SELECT COUNT(*) FROM quizzes WHERE owner_id = ?1")?
                    .query_row([owner], |r| r.get::<_, i64>(0))?,
            };
            Ok(QuizKeyPage {
                keys,
                total: total as u64,
            })
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_quizzes", db.system.name = SYSTEM, db.operation.name = "find_quizzes"))]
    async fn find_quizzes(&self, owner: &UserId, ids: &[QuizId]) -> StoreResult<Vec<QuizRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        let args: Vec<String> = std::iter::once(owner.to_string())
            .chain(ids.iter().map(ToString::to_string))
            .collect();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT body FROM quizzes WHERE owner_id = ? AND id IN ({placeholders})"
            ))?
            .query_map(rusqlite::params_from_iter(args), from_json)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_quiz", db.system.name = SYSTEM, db.operation.name = "delete_quiz"))]
    async fn delete_quiz(&self, owner: &UserId, id: &QuizId) -> StoreResult<bool> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM quizzes WHERE id = ?1 AND owner_id = ?2")?
                .execute([id, owner])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_result", db.system.name = SYSTEM, db.operation.name = "insert_result"))]
    async fn insert_result(&self, result: &QuizResultRecord) -> StoreResult<()> {
        let r = result.clone();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO quiz_results (id, owner_id, quiz_id, submitted_at, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                r.id.as_str(),
                r.owner.as_str(),
                r.quiz_id.as_str(),
                millis(r.submitted_at),
                to_json(&r)?
            ])?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_result", db.system.name = SYSTEM, db.operation.name = "find_result"))]
    async fn find_result(
        &self,
        owner: &UserId,
        id: &ResultId,
    ) -> StoreResult<Option<QuizResultRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM quiz_results WHERE id = ?1 AND owner_id = ?2")?
                .query_row([id, owner], from_json)
                .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_results", db.system.name = SYSTEM, db.operation.name = "list_results"))]
    async fn list_results(
        &self,
        owner: &UserId,
        quiz: Option<&QuizId>,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<Vec<QuizResultRecord>> {
        let (mut clause, page_args) = page_clause("submitted_at", after);
        let mut args: Vec<rusqlite::types::Value> = vec![owner.to_string().into()];
        if let Some(quiz) = quiz {
            clause.insert_str(0, " AND quiz_id = ?");
            args.push(quiz.to_string().into());
        }
        args.extend(page_args);
        let limit = limit_clause(limit);
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT body FROM quiz_results WHERE owner_id = ?{clause} \
                 ORDER BY submitted_at DESC, id DESC{limit}"
            ))?
            .query_map(rusqlite::params_from_iter(args), from_json)?
            .collect()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store count_results", db.system.name = SYSTEM, db.operation.name = "count_results"))]
    async fn count_results(&self, owner: &UserId, quiz: Option<&QuizId>) -> StoreResult<u64> {
        let (owner, quiz) = (owner.to_string(), quiz.map(ToString::to_string));
        self.read(move |c| {
            c.prepare_cached(
                "SELECT COUNT(*) FROM quiz_results WHERE owner_id = ?1 \
                 AND (?2 IS NULL OR quiz_id = ?2)",
            )?
            .query_row(params![owner, quiz], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store set_feedback", db.system.name = SYSTEM, db.operation.name = "set_feedback"))]
    async fn set_feedback(
        &self,
        owner: &UserId,
        id: &ResultId,
        feedback: &FeedbackRecord,
    ) -> StoreResult<bool> {
        let (owner, id, feedback) = (owner.to_string(), id.to_string(), feedback.clone());
        self.run(move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE quiz_results SET body = json_set(body, '$.feedback', json(?1)) \
                     WHERE id = ?2 AND owner_id = ?3 AND json_extract(body, '$.feedback') IS NULL",
                )?
                .execute(params![to_json(&feedback)?, id, owner])?;
            Ok(n == 1)
        })
        .await
    }
}
