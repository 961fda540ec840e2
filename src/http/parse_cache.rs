//! Parsed GraphQL documents by query text. Clients send the same few operations over and over;
//! parsing each again costs more than the rest of a small request. Only the parse is cached:
//! limits and validation still run on every request.
//!
//! On `quick_cache`: its admission filter keeps the few documents real clients repeat even while
//! a client floods the server with one-off queries, which a cache that starts over when full
//! could not.

use async_graphql::parser::types::ExecutableDocument;
use quick_cache::sync::Cache;

/// Queries longer than this are rare and not worth keeping.
const MAX_QUERY_BYTES: usize = 4 * 1024;
const MAX_ENTRIES: usize = 512;

pub struct ParseCache {
    documents: Cache<String, ExecutableDocument>,
}

impl Default for ParseCache {
    fn default() -> Self {
        Self {
            documents: Cache::new(MAX_ENTRIES),
        }
    }
}

impl std::fmt::Debug for ParseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseCache")
            .field("entries", &self.documents.len())
            .finish()
    }
}

impl ParseCache {
    /// Hands `gql` its parsed document from the cache, when there is one; `true` on a hit.
    pub fn fill(&self, gql: &mut async_graphql::Request) -> bool {
        if gql.query.len() > MAX_QUERY_BYTES {
            return false;
        }
        match self.documents.get(gql.query.as_str()) {
            Some(doc) => {
                gql.set_parsed_query(doc);
                true
            }
            None => false,
        }
    }

    /// Remembers a successfully parsed document.
    pub fn keep(&self, query: &str, doc: &ExecutableDocument) {
        if query.len() <= MAX_QUERY_BYTES {
            self.documents.insert(query.to_owned(), doc.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn a_repeated_query_survives_a_flood_of_one_off_queries() {
        let cache = ParseCache::default();
        let hot = "query Me { me { id } }";
        let doc = async_graphql::parser::parse_query(hot).unwrap();
        cache.keep(hot, &doc);
        for i in 0..(MAX_ENTRIES * 8) {
            assert!(
                cache.fill(&mut request(hot)),
                "the hot query was dropped at {i}"
            );
            let once = format!("query Q{i} {{ me {{ id }} }}");
            let doc = async_graphql::parser::parse_query(&once).unwrap();
            cache.keep(&once, &doc);
        }
        assert!(cache.fill(&mut request(hot)));
        assert!(cache.documents.len() <= MAX_ENTRIES + MAX_ENTRIES / 8);
    }

    #[test]
    fn long_queries_are_not_kept() {
        let cache = ParseCache::default();
        let long = format!("query {{ me {{ id }} }} # {}", "x".repeat(MAX_QUERY_BYTES));
        let doc = async_graphql::parser::parse_query(&long).unwrap();
        cache.keep(&long, &doc);
        assert!(!cache.fill(&mut request(&long)));
    }
}
