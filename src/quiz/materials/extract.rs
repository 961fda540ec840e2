//! Text out of an uploaded file: the text layer of a PDF (lopdf, with every stream's inflated
//! size bounded), or Markdown and plain text in UTF-8, UTF-16 with a BOM, or EUC-KR/CP949.
//! Runs on the CPU pool, never on an async worker; every failure is the uploader's to fix.

use std::time::Instant;

use encoding_rs::{EUC_KR, Encoding};

use crate::domain::{MediaType, Message, MessageKey};

/// What one extraction may cost.
#[derive(Debug, Clone, Copy)]
pub struct ExtractLimits {
    pub max_pages: u32,
    /// Largest size any one PDF stream, or one page's content, may inflate to.
    pub max_inflated_bytes: usize,
    /// Past this instant, extraction gives up between pages.
    pub deadline: Instant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub media_type: MediaType,
    pub text: String,
    /// Character offsets where pages begin; empty for text.
    pub page_starts: Vec<u32>,
    pub page_count: Option<u32>,
}

/// Why a file was refused; the message goes to the uploader as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("Only PDF, Markdown (.md) and plain text (.txt) files can be uploaded.")]
    UnsupportedType,
    #[error("The text is not UTF-8, UTF-16 with a byte order mark, or EUC-KR/CP949.")]
    UnknownEncoding,
    #[error("The PDF file is damaged and cannot be read.")]
    CorruptPdf,
    #[error("The PDF is encrypted or password-protected; upload an unprotected copy.")]
    EncryptedPdf,
    #[error(
        "The PDF has no text layer (it is probably scanned images): only PDFs with selectable \
         text can be used."
    )]
    NoTextLayer,
    #[error("The PDF has more than {0} pages.")]
    TooManyPages(u32),
    #[error("The PDF's compressed content expands to more than this server reads.")]
    DecompressionBomb,
    #[error("The file holds no text.")]
    Empty,
    #[error("Reading the file took too long.")]
    TooSlow,
}

impl ExtractError {
    /// What the uploader reads, in their language.
    pub fn message(&self) -> Message {
        let key = match self {
            ExtractError::UnsupportedType => MessageKey::FileUnsupportedType,
            ExtractError::UnknownEncoding => MessageKey::FileUnknownEncoding,
            ExtractError::CorruptPdf => MessageKey::FileCorruptPdf,
            ExtractError::EncryptedPdf => MessageKey::FileEncryptedPdf,
            ExtractError::NoTextLayer => MessageKey::FileNoTextLayer,
            ExtractError::TooManyPages(max) => {
                return Message::new(MessageKey::FileTooManyPages).with("max", *max);
            }
            ExtractError::DecompressionBomb => MessageKey::FileDecompressionBomb,
            ExtractError::Empty => MessageKey::FileEmpty,
            ExtractError::TooSlow => MessageKey::FileTooSlow,
        };
        Message::new(key)
    }
}

/// Reads `bytes`, a file the client named `filename`: a PDF by its signature, otherwise text by
/// its extension (`.md`, `.markdown`, `.txt`, `.text`, or none).
pub fn extract(
    bytes: &[u8],
    filename: &str,
    limits: &ExtractLimits,
) -> Result<Extracted, ExtractError> {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    if bytes.starts_with(b"%PDF-") {
        return pdf(bytes, limits);
    }
    let media_type = match extension.as_deref() {
        Some("pdf") => return Err(ExtractError::CorruptPdf),
        Some("md" | "markdown") => MediaType::Markdown,
        Some("txt" | "text") | None => MediaType::PlainText,
        Some(_) => return Err(ExtractError::UnsupportedType),
    };
    let text = decode_text(bytes)?.replace("\r\n", "\n");
    // Control characters other than line breaks and tabs: a binary file with a text name.
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
    {
        return Err(ExtractError::UnsupportedType);
    }
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted {
        media_type,
        text,
        page_starts: Vec::new(),
        page_count: None,
    })
}

/// A byte order mark decides; then valid UTF-8; then EUC-KR (as CP949, its superset) when the
/// bytes decode without errors and mostly to Hangul, the one legacy encoding we expect.
fn decode_text(bytes: &[u8]) -> Result<String, ExtractError> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        return encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[bom..])
            .map(|t| t.into_owned())
            .ok_or(ExtractError::UnknownEncoding);
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let text = EUC_KR
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or(ExtractError::UnknownEncoding)?;
    let non_ascii = text.chars().filter(|c| !c.is_ascii()).count();
    let hangul = text.chars().filter(|c| is_hangul(*c)).count();
    if non_ascii > 0 && hangul * 2 >= non_ascii {
        Ok(text.into_owned())
    } else {
        Err(ExtractError::UnknownEncoding)
    }
}

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
}

fn is_memory_limit(err: &lopdf::Error) -> bool {
    // The limit may surface wrapped in the step that hit it; its message is the stable part.
    matches!(
        err,
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })
    ) || err.to_string().contains("decompression bomb")
}

fn pdf(bytes: &[u8], limits: &ExtractLimits) -> Result<Extracted, ExtractError> {
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(limits.max_inflated_bytes),
        ..Default::default()
    };
    let doc = lopdf::Document::load_mem_with_options(bytes, options).map_err(|err| match err {
        lopdf::Error::InvalidPassword | lopdf::Error::Decryption(_) => ExtractError::EncryptedPdf,
        err if is_memory_limit(&err) => ExtractError::DecompressionBomb,
        _ => ExtractError::CorruptPdf,
    })?;
    if doc.is_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return Err(ExtractError::EncryptedPdf);
    }
    let pages = doc.get_pages();
    let page_count =
        u32::try_from(pages.len()).map_err(|_| ExtractError::TooManyPages(limits.max_pages))?;
    if page_count == 0 {
        return Err(ExtractError::CorruptPdf);
    }
    if page_count > limits.max_pages {
        return Err(ExtractError::TooManyPages(limits.max_pages));
    }
    let (mut text, mut page_starts, mut chars) = (String::new(), Vec::new(), 0_u32);
    for &number in pages.keys() {
        if Instant::now() > limits.deadline {
            return Err(ExtractError::TooSlow);
        }
        page_starts.push(chars);
        let page = match doc.extract_text_with_limit(&[number], limits.max_inflated_bytes) {
            Ok(page) => page,
            Err(err) if is_memory_limit(&err) => return Err(ExtractError::DecompressionBomb),
            // A page whose fonts lopdf cannot read adds no text; the others still count.
            Err(_) => String::new(),
        };
        let page = page.trim_end();
        if !page.is_empty() {
            text.push_str(page);
            text.push('\n');
            chars = chars.saturating_add(page.chars().count() as u32 + 1);
        }
    }
    if text.trim().is_empty() {
        return Err(ExtractError::NoTextLayer);
    }
    Ok(Extracted {
        media_type: MediaType::Pdf,
        text,
        page_starts,
        page_count: Some(page_count),
    })
}
