//! Study material a user uploaded. Only the text extracted from the file is kept (never the
//! file), with the file's SHA-256 and where each page begins, so that a passage found in the
//! text can later be named by its page.

use chrono::{DateTime, Utc};

use super::{MaterialId, UserId};

/// What the uploaded file was; stored, and shown as `StudyMaterial.mediaType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
pub enum MediaType {
    #[strum(serialize = "application/pdf")]
    Pdf,
    #[strum(serialize = "text/markdown")]
    Markdown,
    #[strum(serialize = "text/plain")]
    PlainText,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What lists show of a material: everything but its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialSummary {
    pub id: MaterialId,
    pub owner: UserId,
    pub title: String,
    pub media_type: MediaType,
    /// Pages of a PDF; `None` for text, which has no pages.
    pub page_count: Option<u32>,
    /// Characters (Unicode scalar values) of the extracted text.
    pub char_count: u32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyMaterialRecord {
    pub summary: MaterialSummary,
    pub text: String,
    /// The character offset in `text` where each page begins, in page order (the first is 0);
    /// empty for text without pages.
    pub page_starts: Vec<u32>,
    /// SHA-256 of the uploaded file, lower-case hex.
    pub sha256: String,
}

impl StudyMaterialRecord {
    /// The page (from 1) that holds the character at `char_offset`; `None` for a material
    /// without pages or an offset past the end of the text.
    pub fn page_of(&self, char_offset: u32) -> Option<u32> {
        if char_offset >= self.summary.char_count {
            return None;
        }
        page_at(&self.page_starts, char_offset)
    }
}

/// The page (from 1) holding the character at `char_offset`, given where each page begins;
/// `None` without pages.
pub(super) fn page_at(page_starts: &[u32], char_offset: u32) -> Option<u32> {
    let after = page_starts.partition_point(|&start| start <= char_offset);
    u32::try_from(after).ok().filter(|&page| page > 0)
}

/// A newest-first page of a user's materials, with how many they keep in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialPage {
    pub items: Vec<MaterialSummary>,
    pub total: u64,
}

/// How much material one user may keep (`UPLOAD_QUOTA_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaterialQuota {
    pub max_count: u64,
    pub max_chars: u64,
}

/// How much material a user keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MaterialUsage {
    pub count: u64,
    pub chars: u64,
}

impl MaterialUsage {
    /// Whether one more material of `chars` characters still fits `quota`.
    pub fn admits(self, chars: u64, quota: MaterialQuota) -> bool {
        self.count < quota.max_count && self.chars.saturating_add(chars) <= quota.max_chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn material(text: &str, page_starts: Vec<u32>) -> StudyMaterialRecord {
        StudyMaterialRecord {
            summary: MaterialSummary {
                id: MaterialId::new_random(),
                owner: UserId::new_random(),
                title: "t".into(),
                media_type: MediaType::Pdf,
                page_count: Some(page_starts.len() as u32),
                char_count: text.chars().count() as u32,
                created_at: Utc::now(),
            },
            text: text.into(),
            page_starts,
            sha256: String::new(),
        }
    }

    #[test]
    fn a_character_is_on_the_page_that_began_last_before_it() {
        let m = material("aaabbbbcc", vec![0, 3, 7]);
        let pages: Vec<_> = (0..10).map(|i| m.page_of(i)).collect();
        assert_eq!(
            pages,
            [1, 1, 1, 2, 2, 2, 2, 3, 3]
                .map(Some)
                .into_iter()
                .chain([None])
                .collect::<Vec<_>>()
        );
        assert_eq!(material("plain", vec![]).page_of(0), None);
    }

    #[test]
    fn the_quota_counts_materials_and_characters() {
        let quota = MaterialQuota {
            max_count: 2,
            max_chars: 100,
        };
        let used = MaterialUsage {
            count: 1,
            chars: 60,
        };
        assert!(used.admits(40, quota));
        assert!(!used.admits(41, quota));
        assert!(!MaterialUsage { count: 2, chars: 0 }.admits(1, quota));
    }

    #[test]
    fn media_types_are_their_stored_names() {
        for t in [MediaType::Pdf, MediaType::Markdown, MediaType::PlainText] {
            assert_eq!(t.as_str().parse::<MediaType>().unwrap(), t);
        }
    }
}
