//! Study materials: the text in its own column beside the summary, so that a list never reads
//! the text.

use crate::domain::{
    MaterialId, MaterialPage, MaterialQuota, MaterialSummary, MaterialUsage, StudyMaterialRecord,
};

use super::*;

const SUMMARY_COLUMNS: &str = "id, owner_id, title, media_type, page_count, char_count, created_at";

fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MaterialSummary> {
    let corrupt = |idx: usize, err: String| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, err.into())
    };
    let media_type: String = row.get(3)?;
    Ok(MaterialSummary {
        id: id_at(row, 0)?,
        owner: id_at(row, 1)?,
        title: row.get(2)?,
        media_type: media_type
            .parse()
            .map_err(|_| corrupt(3, format!("unknown media type {media_type:?}")))?,
        page_count: row.get(4)?,
        char_count: row.get(5)?,
        created_at: time_at(row, 6)?,
    })
}

fn usage(c: &Connection, owner: &str) -> rusqlite::Result<MaterialUsage> {
    c.prepare_cached(
        "SELECT COUNT(*), COALESCE(SUM(char_count), 0) FROM study_materials WHERE owner_id = ?1",
    )?
    .query_row([owner], |r| {
        Ok(MaterialUsage {
            count: r.get::<_, i64>(0)? as u64,
            chars: r.get::<_, i64>(1)? as u64,
        })
    })
}

#[async_trait]
impl StudyMaterialStore for SqliteStore {
    /// The count and the insert share one write transaction, so racing uploads take turns.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_material", db.system.name = SYSTEM, db.operation.name = "insert_material"))]
    async fn insert_material(
        &self,
        material: &StudyMaterialRecord,
        quota: MaterialQuota,
    ) -> StoreResult<bool> {
        let m = material.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let s = &m.summary;
            if !usage(&tx, s.owner.as_str())?.admits(u64::from(s.char_count), quota) {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO study_materials ({SUMMARY_COLUMNS}, body, page_starts, sha256) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))?
            .execute(params![
                s.id.as_str(),
                s.owner.as_str(),
                s.title,
                s.media_type.as_str(),
                s.page_count,
                s.char_count,
                millis(s.created_at),
                m.text,
                to_json(&m.page_starts)?,
                m.sha256,
            ])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_material", db.system.name = SYSTEM, db.operation.name = "find_material"))]
    async fn find_material(
        &self,
        owner: &UserId,
        id: &MaterialId,
    ) -> StoreResult<Option<StudyMaterialRecord>> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS}, body, page_starts, sha256 FROM study_materials \
                 WHERE id = ?1 AND owner_id = ?2"
            ))?
            .query_row([id, owner], |row| {
                let page_starts: String = row.get(8)?;
                Ok(StudyMaterialRecord {
                    summary: summary_from_row(row)?,
                    text: row.get(7)?,
                    page_starts: serde_json::from_str(&page_starts).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            8,
                            rusqlite::types::Type::Text,
                            e.into(),
                        )
                    })?,
                    sha256: row.get(9)?,
                })
            })
            .optional()
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_materials", db.system.name = SYSTEM, db.operation.name = "list_materials"))]
    async fn list_materials(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<MaterialPage> {
        let (clause, mut args) = page_clause("created_at", after);
        let owner = owner.to_string();
        args.insert(0, owner.clone().into());
        let limit = limit_clause(limit);
        self.read(move |c| {
            let items = c
                .prepare_cached(&format!(
                    "SELECT {SUMMARY_COLUMNS} FROM study_materials WHERE owner_id = ?{clause} \
                     ORDER BY created_at DESC, id DESC{limit}"
                ))?
                .query_map(rusqlite::params_from_iter(args), summary_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let total = usage(c, &owner)?.count;
            Ok(MaterialPage { items, total })
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_material", db.system.name = SYSTEM, db.operation.name = "delete_material"))]
    async fn delete_material(&self, owner: &UserId, id: &MaterialId) -> StoreResult<bool> {
        let (owner, id) = (owner.to_string(), id.to_string());
        self.run(move |c| {
            let n = c
                .prepare_cached("DELETE FROM study_materials WHERE id = ?1 AND owner_id = ?2")?
                .execute([id, owner])?;
            Ok(n == 1)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store material_usage", db.system.name = SYSTEM, db.operation.name = "material_usage"))]
    async fn material_usage(&self, owner: &UserId) -> StoreResult<MaterialUsage> {
        let owner = owner.to_string();
        self.read(move |c| usage(c, &owner)).await
    }
}
