//! Limits that keep one request from costing the server more than the whole legitimate API
//! needs. Depth and complexity are enforced by async-graphql; aliases and root fields are counted
//! here, before validation, because validating thousands of aliased fields is itself expensive.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};

use crate::config::Config;

#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_body_bytes: usize,
    pub introspection: bool,
}

impl From<&Config> for QueryLimits {
    fn from(c: &Config) -> Self {
        QueryLimits {
            max_depth: c.graphql_max_depth,
            max_complexity: c.graphql_max_complexity,
            max_aliases: c.graphql_max_aliases,
            max_root_fields: c.graphql_max_root_fields,
            max_body_bytes: c.graphql_max_body_bytes,
            introspection: c.graphql_introspection,
        }
    }
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits::from(&Config::default())
    }
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => count_aliases(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

impl QueryLimits {
    /// Checks what async-graphql does not: aliases in the whole document and fields at the root
    /// of the operation that would run.
    pub fn check(&self, doc: &ExecutableDocument, operation: Option<&str>) -> Result<(), String> {
        let aliases: usize = doc
            .operations
            .iter()
            .map(|(_, op)| count_aliases(&op.node.selection_set.node))
            .chain(
                doc.fragments
                    .values()
                    .map(|f| count_aliases(&f.node.selection_set.node)),
            )
            .sum();
        if aliases > self.max_aliases {
            return Err(format!(
                "The query uses {aliases} aliases; at most {} are allowed.",
                self.max_aliases
            ));
        }
        let root = match (&doc.operations, operation) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) => ops.values().next(),
        };
        let root_fields = root.map_or(0, |op| op.node.selection_set.node.items.len());
        if root_fields > self.max_root_fields {
            return Err(format!(
                "The operation selects {root_fields} root fields; at most {} are allowed.",
                self.max_root_fields
            ));
        }
        Ok(())
    }
}
