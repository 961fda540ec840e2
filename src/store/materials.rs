//! Uploaded study material, scoped to its owner like quizzes: a wrong owner reads as "absent".

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{
    MaterialId, MaterialPage, MaterialQuota, MaterialUsage, PageAfter, StudyMaterialRecord, UserId,
};

#[async_trait]
pub trait StudyMaterialStore: Send + Sync {
    /// Inserts the material unless its owner, with it, would keep more than `quota` allows;
    /// `false`, storing nothing, then. Racing inserts never take an owner past the quota.
    async fn insert_material(
        &self,
        material: &StudyMaterialRecord,
        quota: MaterialQuota,
    ) -> StoreResult<bool>;
    async fn find_material(
        &self,
        owner: &UserId,
        id: &MaterialId,
    ) -> StoreResult<Option<StudyMaterialRecord>>;
    /// Newest first, `limit` at most, strictly after `after`, without their text.
    async fn list_materials(
        &self,
        owner: &UserId,
        after: Option<&PageAfter>,
        limit: usize,
    ) -> StoreResult<MaterialPage>;
    /// `false` when the owner has no such material.
    async fn delete_material(&self, owner: &UserId, id: &MaterialId) -> StoreResult<bool>;
    /// How much material the owner keeps, as the quota counts it.
    async fn material_usage(&self, owner: &UserId) -> StoreResult<MaterialUsage>;
}
