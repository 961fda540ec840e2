//! Study material: files a user uploads (PDF, Markdown, plain text) to build quizzes from. Only
//! the extracted text is kept, with the file's SHA-256; each user's materials count against a
//! quota.

pub mod extract;

use std::{io::Read, sync::Arc, time::Duration};

use tokio::sync::Semaphore;

use crate::{
    cpu,
    domain::{
        AppError, AppResult, MaterialId, MaterialQuota, MaterialSummary, Message, MessageKey,
        SharedClock, StudyMaterialRecord, UserId, sha256_hex,
    },
    store::Store,
};
use extract::{ExtractError, ExtractLimits, Extracted};

use super::page::{Page, PageRequest};

pub const TITLE_MAX_CHARS: usize = 200;

/// `UPLOAD_*`: what one upload may be, and how much one user may keep.
#[derive(Debug, Clone, clap::Args)]
pub struct UploadSettings {
    /// Largest file `uploadStudyMaterial` takes, in bytes; a request body larger than this (plus
    /// GRAPHQL_MAX_BODY_BYTES for the rest of the request) is cut off while it is read.
    #[arg(long, env = "UPLOAD_MAX_BYTES", default_value_t = 10 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    pub upload_max_bytes: u64,
    /// Most pages a PDF may have.
    #[arg(long, env = "UPLOAD_MAX_PAGES", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub upload_max_pages: u32,
    /// Largest size, in bytes, one compressed PDF stream (or one page's content) may expand to;
    /// a file past it is refused as a decompression bomb.
    #[arg(long, env = "UPLOAD_MAX_INFLATED_BYTES", default_value_t = 64 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1024..=1 << 32))]
    pub upload_max_inflated_bytes: u64,
    /// How long reading one file may take before it is refused.
    #[arg(long, env = "UPLOAD_EXTRACT_TIMEOUT", default_value = "20s", value_parser = crate::config::parse::parse_duration)]
    pub upload_extract_timeout: Duration,
    /// Most materials one user may keep.
    #[arg(long, env = "UPLOAD_QUOTA_COUNT", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_quota_count: u64,
    /// Most characters of extracted text one user may keep, all materials together.
    #[arg(long, env = "UPLOAD_QUOTA_CHARS", default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_quota_chars: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

impl UploadSettings {
    fn quota(&self) -> MaterialQuota {
        MaterialQuota {
            max_count: self.upload_quota_count,
            max_chars: self.upload_quota_chars,
        }
    }
}

/// An uploaded file as the transport received it (spooled to a temporary file).
pub struct UploadedFile {
    pub filename: String,
    pub content: std::fs::File,
}

pub struct MaterialService {
    store: Arc<dyn Store>,
    settings: UploadSettings,
    clock: SharedClock,
    /// Extractions at once: each may hold a file and its inflated streams in memory.
    extracting: Semaphore,
}

fn refused(err: ExtractError) -> AppError {
    AppError::bad_input("file", err.message())
}

fn over_quota(quota: MaterialQuota) -> AppError {
    AppError::bad_input(
        "file",
        Message::new(MessageKey::MaterialQuota)
            .with("count", quota.max_count)
            .with("chars", quota.max_chars),
    )
}

impl MaterialService {
    pub fn new(store: Arc<dyn Store>, settings: &UploadSettings, clock: SharedClock) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        MaterialService {
            store,
            settings: settings.clone(),
            clock,
            extracting: Semaphore::new(cores),
        }
    }

    /// Reads the file off the async workers, within the size, page, inflation and time bounds,
    /// and keeps its text if the owner's quota has room. Nothing is stored when any step fails.
    pub async fn upload(
        &self,
        owner: &UserId,
        title: Option<String>,
        file: UploadedFile,
    ) -> AppResult<MaterialSummary> {
        let title = match title.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
            Some(title) => title,
            None => default_title(&file.filename),
        };
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(AppError::bad_input(
                "title",
                Message::new(MessageKey::MaterialTitleLength).with("max", TITLE_MAX_CHARS),
            ));
        }
        let quota = self.settings.quota();
        if !self.store.material_usage(owner).await?.admits(1, quota) {
            return Err(over_quota(quota));
        }
        let (bytes, extracted) = self.read(file).await?;
        let char_count = u32::try_from(extracted.text.chars().count())
            .ok()
            .filter(|&n| u64::from(n) <= quota.max_chars)
            .ok_or_else(|| over_quota(quota))?;
        let record = StudyMaterialRecord {
            summary: MaterialSummary {
                id: MaterialId::new_random(),
                owner: owner.clone(),
                title,
                media_type: extracted.media_type,
                page_count: extracted.page_count,
                char_count,
                created_at: self.clock.now(),
            },
            text: extracted.text,
            page_starts: extracted.page_starts,
            sha256: sha256_hex(&bytes),
        };
        if !self.store.insert_material(&record, quota).await? {
            return Err(over_quota(quota));
        }
        tracing::info!(user_id = %owner, material_id = %record.summary.id,
            media_type = record.summary.media_type.as_str(), chars = char_count, "study material uploaded");
        Ok(record.summary)
    }

    /// The file's bytes and text, from the CPU pool, within `UPLOAD_EXTRACT_TIMEOUT`.
    async fn read(&self, file: UploadedFile) -> AppResult<(Vec<u8>, Extracted)> {
        let _permit = self
            .extracting
            .acquire()
            .await
            .map_err(AppError::internal)?;
        let max_bytes = self.settings.upload_max_bytes;
        let timeout = self.settings.upload_extract_timeout;
        let limits = ExtractLimits {
            max_pages: self.settings.upload_max_pages,
            max_inflated_bytes: usize::try_from(self.settings.upload_max_inflated_bytes)
                .unwrap_or(usize::MAX),
            deadline: std::time::Instant::now() + timeout,
        };
        let work = cpu::run(move || -> AppResult<(Vec<u8>, Extracted)> {
            let mut bytes = Vec::new();
            file.content
                .take(max_bytes + 1)
                .read_to_end(&mut bytes)
                .map_err(AppError::internal)?;
            if bytes.len() as u64 > max_bytes {
                return Err(AppError::bad_input(
                    "file",
                    Message::new(MessageKey::FileTooLarge).with("max", max_bytes),
                ));
            }
            // A parser bug on a crafted file is that file's problem, not the server's.
            let extracted =
                std::panic::catch_unwind(|| extract::extract(&bytes, &file.filename, &limits))
                    .unwrap_or(Err(ExtractError::CorruptPdf))
                    .map_err(refused)?;
            Ok((bytes, extracted))
        });
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| refused(ExtractError::TooSlow))??
    }

    pub async fn materials(
        &self,
        owner: &UserId,
        page: PageRequest,
    ) -> AppResult<Page<MaterialSummary>> {
        let fetched = self
            .store
            .list_materials(owner, page.after.as_ref(), page.limit + 1)
            .await?;
        Ok(Page::from_fetched(fetched.items, &page, fetched.total))
    }

    pub async fn delete(&self, owner: &UserId, id: &str) -> AppResult<()> {
        let id = MaterialId::parse(id).ok_or(AppError::NotFound)?;
        if self.store.delete_material(owner, &id).await? {
            tracing::info!(user_id = %owner, material_id = %id, "study material deleted");
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    /// The material, to build a quiz from its text and name its pages; `NOT_FOUND` when it is
    /// absent or not the owner's.
    pub async fn material(&self, owner: &UserId, id: &str) -> AppResult<StudyMaterialRecord> {
        let id = MaterialId::parse(id).ok_or(AppError::NotFound)?;
        self.store
            .find_material(owner, &id)
            .await?
            .ok_or(AppError::NotFound)
    }
}

/// The file's name without its extension, or `Untitled`.
fn default_title(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem).trim();
    if stem.is_empty() {
        "Untitled".into()
    } else {
        stem.chars().take(TITLE_MAX_CHARS).collect()
    }
}
