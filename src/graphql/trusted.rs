//! Trusted documents (persisted operations): the operations a deployment's own clients send,
//! known ahead of time from a manifest `{ "<sha256 hex>": "<document>" }` (GraphQL Code
//! Generator's client preset writes one with `persistedDocuments: true`). A request names one
//! by `documentId` (`<hex>` or `sha256:<hex>`) or by Apollo's
//! `extensions.persistedQuery.sha256Hash`. With `enforce`, nothing else runs, so the API
//! answers only what its clients were built to ask.

use std::{collections::HashMap, path::PathBuf, sync::LazyLock};

use anyhow::Context;
use async_graphql::ServerError;
use sha2::{Digest, Sha256};

use crate::domain::{ErrorCode, MessageKey};

/// The operations the server's own pages send (`/verify-email`, `/reset-password`): trusted
/// whatever the manifest holds, so those pages work under `enforce` too. The pages send them by
/// [`ServerDocument::id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerDocument {
    VerifyEmail,
    ResetPassword,
}

impl ServerDocument {
    const ALL: [ServerDocument; 2] = [ServerDocument::VerifyEmail, ServerDocument::ResetPassword];

    pub fn text(self) -> &'static str {
        match self {
            ServerDocument::VerifyEmail => {
                "mutation Verify($uid: String!, $token: String!) { verifyEmail(uid: $uid, token: $token) { user { username } message } }"
            }
            ServerDocument::ResetPassword => {
                "mutation Reset($uid: String!, $token: String!, $p: String!) { resetPassword(uid: $uid, token: $token, newPassword: $p) }"
            }
        }
    }

    /// The `documentId` that names it: the SHA-256 of its text, as for manifest entries.
    pub fn id(self) -> String {
        format!("sha256:{}", hex(&Sha256::digest(self.text().as_bytes())))
    }

    fn by_hash(hash: &str) -> Option<&'static str> {
        static BY_HASH: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
            ServerDocument::ALL
                .iter()
                .map(|d| (normalize(&d.id()), d.text()))
                .collect()
        });
        BY_HASH.get(hash).copied()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrustMode {
    /// Free text only; a document id is looked up when a manifest is given.
    Off,
    /// Trusted documents by id, and free text too.
    Allow,
    /// Trusted documents only.
    Enforce,
}

/// `TRUSTED_DOCUMENTS`, `TRUSTED_DOCUMENTS_FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustedDocumentSettings {
    /// Which documents run: free text, trusted documents (by id, from
    /// TRUSTED_DOCUMENTS_FILE), or both.
    #[arg(long, env = "TRUSTED_DOCUMENTS", value_enum, default_value = "off")]
    pub trusted_documents: TrustMode,
    /// The JSON manifest of trusted documents, `{ "<sha256 hex>": "<document>" }`; needed by
    /// `allow` and `enforce`; with `off` its documents can still be named by id.
    #[arg(long, env = "TRUSTED_DOCUMENTS_FILE")]
    pub trusted_documents_file: Option<PathBuf>,
}

impl Default for TrustedDocumentSettings {
    fn default() -> Self {
        crate::config::parse::defaults()
    }
}

#[derive(Debug, Default)]
pub struct TrustedDocuments {
    mode: Option<TrustMode>,
    by_hash: HashMap<String, String>,
}

/// What a request asked to run.
pub struct Requested<'a> {
    /// The query text, empty when none was sent.
    pub query: &'a str,
    /// `documentId`.
    pub document_id: Option<&'a str>,
    /// `extensions.persistedQuery.sha256Hash`.
    pub persisted_hash: Option<&'a str>,
}

impl TrustedDocuments {
    /// Reads and checks the manifest: every key must be the SHA-256 of its document, so a
    /// hand-edited entry cannot run something other than what its id promises.
    pub fn load(settings: &TrustedDocumentSettings) -> anyhow::Result<Self> {
        let mode = settings.trusted_documents;
        let Some(path) = &settings.trusted_documents_file else {
            if mode != TrustMode::Off {
                anyhow::bail!(
                    "TRUSTED_DOCUMENTS={} needs TRUSTED_DOCUMENTS_FILE (the manifest)",
                    if mode == TrustMode::Allow {
                        "allow"
                    } else {
                        "enforce"
                    }
                );
            }
            return Ok(TrustedDocuments::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read TRUSTED_DOCUMENTS_FILE {}", path.display()))?;
        let manifest: HashMap<String, String> = serde_json::from_str(&text).with_context(|| {
            format!(
                "TRUSTED_DOCUMENTS_FILE {} is not a JSON object of hash to document",
                path.display()
            )
        })?;
        let mut by_hash = HashMap::with_capacity(manifest.len());
        for (hash, document) in manifest {
            let hash = normalize(&hash);
            let actual = hex(&Sha256::digest(document.as_bytes()));
            if hash != actual {
                anyhow::bail!(
                    "TRUSTED_DOCUMENTS_FILE {}: the entry {hash} is not the SHA-256 of its document ({actual})",
                    path.display()
                );
            }
            by_hash.insert(hash, document);
        }
        tracing::info!(
            documents = by_hash.len(),
            mode = ?mode,
            "trusted documents loaded"
        );
        Ok(TrustedDocuments {
            mode: Some(mode),
            by_hash,
        })
    }

    fn mode(&self) -> TrustMode {
        self.mode.unwrap_or(TrustMode::Off)
    }

    /// The text to run: the trusted document a request names, or its own text where that is
    /// allowed. `Ok(None)` keeps the request's text. A named document that is unknown is
    /// `PERSISTED_QUERY_NOT_FOUND` when no text came with it (Apollo's client then sends the
    /// text), and free text under `enforce` is `OPERATION_NOT_TRUSTED`.
    pub fn resolve(&self, requested: &Requested<'_>) -> Result<Option<&str>, ServerError> {
        let id = requested.document_id.or(requested.persisted_hash);
        if let Some(id) = id {
            let hash = normalize(id);
            if let Some(document) = self.by_hash.get(&hash) {
                return Ok(Some(document));
            }
            if let Some(document) = ServerDocument::by_hash(&hash) {
                return Ok(Some(document));
            }
            if requested.query.is_empty() {
                return Err(refusal(
                    ErrorCode::PersistedQueryNotFound,
                    MessageKey::PersistedQueryNotFound,
                ));
            }
        }
        if self.mode() == TrustMode::Enforce {
            return Err(refusal(
                ErrorCode::OperationNotTrusted,
                MessageKey::OperationNotTrusted,
            ));
        }
        Ok(None)
    }
}

/// `sha256:<hex>` and `<hex>`, any case, are the same id.
fn normalize(id: &str) -> String {
    let id = id.trim();
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .to_ascii_lowercase()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refusal(code: ErrorCode, message: MessageKey) -> ServerError {
    super::error::coded_error(code, message.into()).into_server_error(Default::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(mode: TrustMode, docs: &[&str]) -> TrustedDocuments {
        TrustedDocuments {
            mode: Some(mode),
            by_hash: docs
                .iter()
                .map(|d| (hex(&Sha256::digest(d.as_bytes())), (*d).to_owned()))
                .collect(),
        }
    }

    fn code(err: ServerError) -> String {
        let ext = err.extensions.unwrap();
        ext.get("code").unwrap().to_string()
    }

    #[test]
    fn documents_are_found_by_either_spelling_of_their_id() {
        let doc = "query Me { me { id } }";
        let hash = hex(&Sha256::digest(doc.as_bytes()));
        let trusted = with(TrustMode::Enforce, &[doc]);
        for id in [hash.clone(), format!("sha256:{hash}"), hash.to_uppercase()] {
            let r = Requested {
                query: "",
                document_id: Some(&id),
                persisted_hash: None,
            };
            assert_eq!(trusted.resolve(&r).unwrap(), Some(doc));
        }
        let apollo = Requested {
            query: "",
            document_id: None,
            persisted_hash: Some(&hash),
        };
        assert_eq!(trusted.resolve(&apollo).unwrap(), Some(doc));
    }

    #[test]
    fn the_servers_own_documents_are_trusted_in_every_mode() {
        for mode in [TrustMode::Off, TrustMode::Allow, TrustMode::Enforce] {
            let trusted = with(mode, &[]);
            for document in ServerDocument::ALL {
                let id = document.id();
                let r = Requested {
                    query: "",
                    document_id: Some(&id),
                    persisted_hash: None,
                };
                assert_eq!(trusted.resolve(&r).unwrap(), Some(document.text()));
            }
        }
    }

    #[test]
    fn free_text_and_unknown_ids_follow_the_mode() {
        let unknown = Requested {
            query: "",
            document_id: Some("00ff"),
            persisted_hash: None,
        };
        let text = Requested {
            query: "{ __typename }",
            document_id: None,
            persisted_hash: None,
        };
        let unknown_with_text = Requested {
            query: "{ __typename }",
            document_id: None,
            persisted_hash: Some("00ff"),
        };
        for mode in [TrustMode::Off, TrustMode::Allow, TrustMode::Enforce] {
            let trusted = with(mode, &["{ me { id } }"]);
            assert_eq!(
                code(trusted.resolve(&unknown).unwrap_err()),
                "\"PERSISTED_QUERY_NOT_FOUND\""
            );
            for request in [&text, &unknown_with_text] {
                match mode {
                    TrustMode::Enforce => assert_eq!(
                        code(trusted.resolve(request).unwrap_err()),
                        "\"OPERATION_NOT_TRUSTED\""
                    ),
                    _ => assert_eq!(trusted.resolve(request).unwrap(), None),
                }
            }
        }
    }
}
