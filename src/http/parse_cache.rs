//! Parsed GraphQL documents by query text. Clients send the same few operations over and over;
//! parsing each again costs more than the rest of a small request. Only the parse is cached:
//! limits and validation still run on every request.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Queries longer than this are rare and not worth keeping.
const MAX_QUERY_BYTES: usize = 4 * 1024;
/// When full, the cache starts over: simple, and bounded.
const MAX_ENTRIES: usize = 512;

#[derive(Debug, Default)]
pub struct ParseCache {
    documents: Mutex<HashMap<String, ExecutableDocument>>,
}

impl ParseCache {
    /// Hands `gql` its parsed document from the cache, when there is one; `true` on a hit.
    pub fn fill(&self, gql: &mut async_graphql::Request) -> bool {
        if gql.query.len() > MAX_QUERY_BYTES {
            return false;
        }
        let cached = self
            .documents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&gql.query)
            .cloned();
        let hit = cached.is_some();
        if let Some(doc) = cached {
            gql.set_parsed_query(doc);
        }
        hit
    }

    /// Remembers a successfully parsed document.
    pub fn keep(&self, query: &str, doc: &ExecutableDocument) {
        if query.len() > MAX_QUERY_BYTES {
            return;
        }
        let mut documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        if documents.contains_key(query) {
            return;
        }
        if documents.len() >= MAX_ENTRIES {
            documents.clear();
        }
        documents.insert(query.to_owned(), doc.clone());
    }
}
