//! Limits that keep one request from costing the server more than the whole legitimate API
//! needs. Depth and complexity are enforced by async-graphql; aliases and root fields are counted
//! here, before validation, because validating thousands of aliased fields is itself expensive.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};

/// `GRAPHQL_*`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryLimits {
    /// Deepest selection nesting a query may have.
    #[arg(
        long = "graphql-max-depth",
        env = "GRAPHQL_MAX_DEPTH",
        value_name = "GRAPHQL_MAX_DEPTH",
        default_value_t = 15
    )]
    pub max_depth: usize,
    /// Most fields (each counts 1) a query may select in all.
    #[arg(
        long = "graphql-max-complexity",
        env = "GRAPHQL_MAX_COMPLEXITY",
        value_name = "GRAPHQL_MAX_COMPLEXITY",
        default_value_t = 500
    )]
    pub max_complexity: usize,
    #[arg(
        long = "graphql-max-aliases",
        env = "GRAPHQL_MAX_ALIASES",
        value_name = "GRAPHQL_MAX_ALIASES",
        default_value_t = 30
    )]
    pub max_aliases: usize,
    #[arg(
        long = "graphql-max-root-fields",
        env = "GRAPHQL_MAX_ROOT_FIELDS",
        value_name = "GRAPHQL_MAX_ROOT_FIELDS",
        default_value_t = 20
    )]
    pub max_root_fields: usize,
    /// Largest request body; bigger ones get HTTP 413.
    #[arg(
        long = "graphql-max-body-bytes",
        env = "GRAPHQL_MAX_BODY_BYTES",
        value_name = "GRAPHQL_MAX_BODY_BYTES",
        default_value_t = 1_048_576
    )]
    pub max_body_bytes: usize,
    /// Schema introspection (and field suggestions in errors); turn off in production if the
    /// schema should not be explorable.
    #[arg(long = "graphql-introspection", env = "GRAPHQL_INTROSPECTION", value_name = "GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,
}

impl Default for QueryLimits {
    fn default() -> Self {
        crate::settings::defaults()
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
