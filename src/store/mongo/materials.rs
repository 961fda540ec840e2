//! Study materials, one document each, and a usage document per owner (`_id` the owner) whose
//! conditional increment is what keeps racing uploads within the quota: the test server runs
//! no transactions, so counting the materials and then inserting could let two both fit.

use serde::Serialize;

use crate::domain::{
    MaterialId, MaterialPage, MaterialQuota, MaterialSummary, MaterialUsage, StudyMaterialRecord,
};

use super::*;

/// A material as stored; a list projects out the text, which then reads as empty.
#[derive(Serialize, Deserialize)]
struct MaterialDoc {
    #[serde(rename = "_id")]
    id: MaterialId,
    owner_id: UserId,
    title: String,
    media_type: String,
    page_count: Option<u32>,
    char_count: u32,
    #[serde(with = "bson_time")]
    created_at: DateTime<Utc>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    page_starts: Vec<u32>,
    #[serde(default)]
    sha256: String,
}

impl MaterialDoc {
    fn of(m: &StudyMaterialRecord) -> Self {
        let s = &m.summary;
        MaterialDoc {
            id: s.id.clone(),
            owner_id: s.owner.clone(),
            title: s.title.clone(),
            media_type: s.media_type.as_str().to_owned(),
            page_count: s.page_count,
            char_count: s.char_count,
            created_at: s.created_at,
            text: m.text.clone(),
            page_starts: m.page_starts.clone(),
            sha256: m.sha256.clone(),
        }
    }

    fn into_record(self) -> StoreResult<StudyMaterialRecord> {
        let media_type = self.media_type.parse().map_err(|_| {
            StoreError::Corrupt(format!("unknown media type {:?}", self.media_type).into())
        })?;
        Ok(StudyMaterialRecord {
            summary: MaterialSummary {
                id: self.id,
                owner: self.owner_id,
                title: self.title,
                media_type,
                page_count: self.page_count,
                char_count: self.char_count,
                created_at: self.created_at,
            },
            text: self.text,
            page_starts: self.page_starts,
            sha256: self.sha256,
        })
    }
}

#[derive(Deserialize)]
struct UsageDoc {
    count: i64,
    chars: i64,
}

impl MongoStore {
    fn materials(&self) -> Collection<MaterialDoc> {
        self.db.collection("study_materials")
    }

    fn material_usage_docs(&self) -> Collection<Document> {
        self.db.collection("study_material_usage")
    }

    pub(super) async fn create_material_indexes(&self) -> anyhow::Result<()> {
        self.materials()
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "owner_id": 1, "created_at": -1, "_id": -1 })
                    .options(
                        IndexOptions::builder()
                            .name("study_materials_by_owner".to_owned())
                            .build(),
                    )
                    .build(),
            )
            .await
            .context("creating MongoDB indexes on study_materials")?;
        Ok(())
    }

    /// Moves an owner's usage by `count` materials and `chars` characters.
    async fn add_material_usage(&self, owner: &UserId, count: i64, chars: i64) -> StoreResult<()> {
        self.material_usage_docs()
            .update_one(
                doc! { "_id": owner.as_str() },
                doc! { "$inc": { "count": count, "chars": chars } },
            )
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// For the guest sweep: the materials and usage of users that are gone.
    pub(super) async fn delete_owned_materials(&self, ids: &[UserId]) -> StoreResult<()> {
        let ids: Vec<&str> = ids.iter().map(UserId::as_str).collect();
        self.materials()
            .delete_many(doc! { "owner_id": { "$in": &ids } })
            .await
            .map_err(map_err)?;
        self.material_usage_docs()
            .delete_many(doc! { "_id": { "$in": &ids } })
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl StudyMaterialStore for MongoStore {
    /// Reserves the room first: an increment whose filter holds only while the owner stays
    /// within the quota (an upsert for the first material; one that finds the document over
    /// the quota collides with its `_id` instead), then inserts, and gives the room back if the
    /// insert fails.
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store insert_material", db.system.name = SYSTEM, db.operation.name = "insert_material"))]
    async fn insert_material(
        &self,
        material: &StudyMaterialRecord,
        quota: MaterialQuota,
    ) -> StoreResult<bool> {
        let owner = &material.summary.owner;
        let chars = u64::from(material.summary.char_count);
        if !MaterialUsage::default().admits(chars, quota) {
            return Ok(false);
        }
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let reserved = self
            .material_usage_docs()
            .update_one(
                doc! {
                    "_id": owner.as_str(),
                    "count": { "$lt": as_i64(quota.max_count) },
                    "chars": { "$lte": as_i64(quota.max_chars - chars) },
                },
                doc! { "$inc": { "count": 1_i64, "chars": as_i64(chars) } },
            )
            .upsert(true)
            .await;
        match reserved {
            Ok(_) => {}
            Err(err) if is_duplicate_key(&err) => return Ok(false),
            Err(err) => return Err(map_err(err)),
        }
        if let Err(err) = self.materials().insert_one(MaterialDoc::of(material)).await {
            self.add_material_usage(owner, -1, -as_i64(chars)).await?;
            return Err(map_err(err));
        }
        Ok(true)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store find_material", db.system.name = SYSTEM, db.operation.name = "find_material"))]
    async fn find_material(
        &self,
        owner: &UserId,
        id: &MaterialId,
    ) -> StoreResult<Option<StudyMaterialRecord>> {
        self.materials()
            .find_one(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .await
            .map_err(map_err)?
            .map(MaterialDoc::into_record)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store list_materials", db.system.name = SYSTEM, db.operation.name = "list_materials"))]
    async fn list_materials(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<MaterialPage> {
        let filter = page_filter(doc! { "owner_id": owner.as_str() }, "created_at", after);
        let docs: Vec<MaterialDoc> = self
            .materials()
            .find(filter)
            .projection(doc! { "text": 0, "page_starts": 0, "sha256": 0 })
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(limit as i64)
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        let items = docs
            .into_iter()
            .map(|d| d.into_record().map(|r| r.summary))
            .collect::<StoreResult<Vec<_>>>()?;
        let total = self.material_usage(owner).await?.count;
        Ok(MaterialPage { items, total })
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store delete_material", db.system.name = SYSTEM, db.operation.name = "delete_material"))]
    async fn delete_material(&self, owner: &UserId, id: &MaterialId) -> StoreResult<bool> {
        let gone = self
            .materials()
            .find_one_and_delete(doc! { "_id": id.as_str(), "owner_id": owner.as_str() })
            .projection(doc! { "text": 0, "page_starts": 0, "sha256": 0 })
            .await
            .map_err(map_err)?;
        match gone {
            Some(doc) => {
                self.add_material_usage(owner, -1, -i64::from(doc.char_count))
                    .await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(otel.name = "store material_usage", db.system.name = SYSTEM, db.operation.name = "material_usage"))]
    async fn material_usage(&self, owner: &UserId) -> StoreResult<MaterialUsage> {
        let usage = self
            .material_usage_docs()
            .clone_with_type::<UsageDoc>()
            .find_one(doc! { "_id": owner.as_str() })
            .await
            .map_err(map_err)?;
        Ok(
            usage.map_or_else(MaterialUsage::default, |u| MaterialUsage {
                count: u64::try_from(u.count).unwrap_or(0),
                chars: u64::try_from(u.chars).unwrap_or(0),
            }),
        )
    }
}
