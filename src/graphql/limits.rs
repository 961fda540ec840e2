//! Limits that keep one request from costing the server more than the whole legitimate API
//! needs. The document is first bounded by its token count, before it is parsed at all; then
//! aliases, root fields, depth and fields are counted here, before validation, because
//! validating a huge or fragment-multiplied document is itself the expensive part.
//! async-graphql's own depth and complexity limits stay on as a backstop.

use std::collections::HashMap;

use async_graphql::{
    ErrorExtensions, ServerError,
    parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet},
};

use super::error::coded_error;
use crate::{
    domain::{ErrorCode, Message, MessageKey},
    quiz::page::MAX_PAGE_SIZE,
};

/// `GRAPHQL_*`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryLimits {
    /// Most lexical tokens a document may have (names, punctuation, values; not whitespace,
    /// commas or comments); counted before parsing, so a huge document
    /// costs little to refuse (GraphiQL's introspection query is about 155).
    #[arg(
        long = "graphql-max-tokens",
        env = "GRAPHQL_MAX_TOKENS",
        value_name = "GRAPHQL_MAX_TOKENS",
        default_value_t = 2000
    )]
    pub max_tokens: usize,
    /// Deepest selection nesting a query may have.
    #[arg(
        long = "graphql-max-depth",
        env = "GRAPHQL_MAX_DEPTH",
        value_name = "GRAPHQL_MAX_DEPTH",
        default_value_t = 15
    )]
    pub max_depth: usize,
    /// Most fields (each counts 1) a query may select in all, fragments spread in place
    /// (`__typename` and introspection fields count too), and most it may answer with, each
    /// item of a list page (`quizzes`, `quizResults`) counting its fields.
    #[arg(
        long = "graphql-max-complexity",
        env = "GRAPHQL_MAX_COMPLEXITY",
        value_name = "GRAPHQL_MAX_COMPLEXITY",
        default_value_t = 500
    )]
    pub max_complexity: usize,
    /// Most aliases in one document.
    #[arg(
        long = "graphql-max-aliases",
        env = "GRAPHQL_MAX_ALIASES",
        value_name = "GRAPHQL_MAX_ALIASES",
        default_value_t = 30
    )]
    pub max_aliases: usize,
    /// Most fields at the root of the operation, counted through fragments.
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
        crate::config::parse::defaults()
    }
}

/// Which limit a request broke; clients see it as `extensions.limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "camelCase")]
pub enum Limit {
    Tokens,
    Aliases,
    RootFields,
    Depth,
    Complexity,
    OperationName,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    pub limit: Limit,
    pub message: Message,
}

impl From<LimitExceeded> for ServerError {
    fn from(err: LimitExceeded) -> Self {
        let LimitExceeded { limit, message } = err;
        coded_error(ErrorCode::BadUserInput, message)
            .extend_with(|_, ext| ext.set("limit", limit.as_str()))
            .into_server_error(Default::default())
    }
}

/// Longest operation name accepted, in a document or as `operationName`. A name is one token
/// however long, and it is what telemetry labels, span fields and log lines carry.
pub const MAX_OPERATION_NAME_CHARS: usize = 100;

/// Whether `name` is a GraphQL Name (`[_A-Za-z][_0-9A-Za-z]*`) of at most
/// [`MAX_OPERATION_NAME_CHARS`]: the only operation names that reach telemetry.
pub fn is_plain_operation_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_OPERATION_NAME_CHARS
        && bytes
            .next()
            .is_some_and(|b| b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

fn operation_name_refused() -> LimitExceeded {
    LimitExceeded {
        limit: Limit::OperationName,
        message: Message::new(MessageKey::LimitOperationName).with("max", MAX_OPERATION_NAME_CHARS),
    }
}

/// The complexity of a page of a list (`first` items): each item costs what its selection
/// costs, so twenty aliased pages of a hundred cost what they would answer with. A `first`
/// beyond the allowed range is costed at the range's end and refused by the field itself.
pub fn page_cost(first: i32, per_item: usize) -> usize {
    let items = usize::try_from(first.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1);
    items.saturating_mul(per_item).saturating_add(1)
}

/// What async-graphql answers when the complexity it computes after validation (with
/// [`page_cost`] for lists, variables and defaults applied) is over `limit_complexity`. The
/// field count before validation cannot know a page's size; this can.
const TOO_COMPLEX: &str = "Query is too complex.";

impl LimitExceeded {
    /// async-graphql's complexity refusal, which comes without a code, in the documented
    /// shape. Matched by its text: `security::list_pages_cost_their_items` notices a change.
    pub fn from_validation(message: &str) -> Option<LimitExceeded> {
        (message == TOO_COMPLEX).then(|| LimitExceeded {
            limit: Limit::Complexity,
            message: MessageKey::LimitPagedComplexity.into(),
        })
    }
}

/// Counts the GraphQL lexical tokens of `source` (names, numbers, strings, punctuators; not
/// whitespace, commas or comments), giving up once there are more than `max`. One pass over the
/// bytes, so a document too big to be worth parsing costs next to nothing to refuse.
pub fn count_tokens(source: &str, max: usize) -> usize {
    let bytes = source.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let (mut i, mut tokens) = (0, 0);
    while i < bytes.len() && tokens <= max {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => i += 3,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                while at(i) == b'_' || at(i).is_ascii_alphanumeric() {
                    i += 1;
                }
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                let digits = |i: &mut usize| {
                    while at(*i).is_ascii_digit() {
                        *i += 1;
                    }
                };
                digits(&mut i);
                if at(i) == b'.' && at(i + 1).is_ascii_digit() {
                    i += 1;
                    digits(&mut i);
                }
                if matches!(at(i), b'e' | b'E') {
                    i += 1;
                    if matches!(at(i), b'+' | b'-') {
                        i += 1;
                    }
                    digits(&mut i);
                }
            }
            // A punctuator, or a byte the parser will refuse: one token either way.
            _ => i += 1,
        }
        tokens += 1;
    }
    tokens
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

/// What a selection set costs once its fragments are spread in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    /// Fields selected at any level, `__typename` and introspection fields included.
    fields: usize,
    /// Deepest field nesting; a root field is at depth 1.
    depth: usize,
    /// Fields at this level of the selection set.
    width: usize,
}

impl Cost {
    /// Saturating, since fragments that spread others several times multiply.
    fn and(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            depth: self.depth.max(other.depth),
            width: self.width.saturating_add(other.width),
        }
    }
}

/// Costs selection sets with fragment spreads and inline fragments flattened. Each fragment is
/// costed once (a fragment spread twice in each of a chain of fragments doubles at every link
/// without costing more to count), and a spread that leads back into itself counts nothing:
/// validation refuses such cycles, but this runs first.
struct Flattener<'a> {
    doc: &'a ExecutableDocument,
    /// `None` while the fragment is being costed.
    fragments: HashMap<&'a str, Option<Cost>>,
}

impl<'a> Flattener<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Cost {
        let mut cost = Cost::default();
        for item in &set.items {
            let item_cost = match &item.node {
                Selection::Field(field) => {
                    let inner = self.selection_set(&field.node.selection_set.node);
                    Cost {
                        fields: inner.fields.saturating_add(1),
                        depth: inner.depth + 1,
                        width: 1,
                    }
                }
                Selection::InlineFragment(fragment) => {
                    self.selection_set(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            };
            cost = cost.and(item_cost);
        }
        cost
    }

    fn fragment(&mut self, name: &'a str) -> Cost {
        if let Some(known) = self.fragments.get(name) {
            return known.unwrap_or_default();
        }
        // An unknown fragment is left for validation to report.
        let Some(definition) = self.doc.fragments.get(name) else {
            return Cost::default();
        };
        self.fragments.insert(name, None);
        let cost = self.selection_set(&definition.node.selection_set.node);
        self.fragments.insert(name, Some(cost));
        cost
    }
}

impl QueryLimits {
    /// Refuses an `operationName` that is no GraphQL name or is too long, before anything
    /// else looks at it (an empty one, which some clients send for none, goes on as before).
    pub fn check_operation_name(&self, name: Option<&str>) -> Result<(), LimitExceeded> {
        match name {
            Some(name) if !name.is_empty() && !is_plain_operation_name(name) => {
                Err(operation_name_refused())
            }
            _ => Ok(()),
        }
    }

    /// Refuses a document with more tokens than allowed, before it is parsed.
    pub fn check_size(&self, query: &str) -> Result<(), LimitExceeded> {
        if count_tokens(query, self.max_tokens) > self.max_tokens {
            return Err(LimitExceeded {
                limit: Limit::Tokens,
                message: Message::new(MessageKey::LimitTokens).with("max", self.max_tokens),
            });
        }
        Ok(())
    }

    /// Checks a parsed document before validation: aliases as written, root fields of the
    /// operation that would run, and depth and fields of all operations (validation walks every
    /// one), each with fragments spread in place.
    pub fn check(
        &self,
        doc: &ExecutableDocument,
        operation: Option<&str>,
    ) -> Result<(), LimitExceeded> {
        if let DocumentOperations::Multiple(ops) = &doc.operations
            && ops.keys().any(|name| !is_plain_operation_name(name))
        {
            return Err(operation_name_refused());
        }
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
            return Err(LimitExceeded {
                limit: Limit::Aliases,
                message: Message::new(MessageKey::LimitAliases)
                    .with("count", aliases)
                    .with("max", self.max_aliases),
            });
        }
        let mut flattener = Flattener {
            doc,
            fragments: HashMap::new(),
        };
        let root = match (&doc.operations, operation) {
            (DocumentOperations::Single(op), _) => Some(op),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
            (DocumentOperations::Multiple(ops), None) => ops.values().next(),
        };
        let root_fields = root.map_or(0, |op| {
            flattener.selection_set(&op.node.selection_set.node).width
        });
        if root_fields > self.max_root_fields {
            return Err(LimitExceeded {
                limit: Limit::RootFields,
                message: Message::new(MessageKey::LimitRootFields)
                    .with("count", root_fields)
                    .with("max", self.max_root_fields),
            });
        }
        let total = doc
            .operations
            .iter()
            .map(|(_, op)| flattener.selection_set(&op.node.selection_set.node))
            .fold(Cost::default(), Cost::and);
        if total.depth > self.max_depth {
            return Err(LimitExceeded {
                limit: Limit::Depth,
                message: Message::new(MessageKey::LimitDepth)
                    .with("depth", total.depth)
                    .with("max", self.max_depth),
            });
        }
        if total.fields > self.max_complexity {
            return Err(LimitExceeded {
                limit: Limit::Complexity,
                message: Message::new(MessageKey::LimitFields)
                    .with("count", total.fields)
                    .with("max", self.max_complexity),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn check(query: &str) -> Result<(), Limit> {
        let doc = parse_query(query).unwrap();
        QueryLimits::default()
            .check(&doc, None)
            .map_err(|e| e.limit)
    }

    #[test]
    fn tokens_skip_whitespace_comments_and_string_contents() {
        assert_eq!(count_tokens("{ a(x: 1, y: -2.5e3) { ...F } }", 100), 15);
        assert_eq!(count_tokens("# { { {\n{ a }", 100), 3);
        assert_eq!(count_tokens(r#"{ a(s: "} { \" }") }"#, 100), 8);
        assert_eq!(count_tokens(r#"{ a(s: """ { \""" } """) }"#, 100), 8);
        assert_eq!(count_tokens("", 100), 0);
        // Counting stops just past the limit, however long the rest is.
        assert_eq!(count_tokens(&"a ".repeat(1_000_000), 10), 11);
    }

    #[test]
    fn fragments_are_flattened_and_typename_counts() {
        let inline: String = (0..25).map(|_| "__typename ").collect();
        assert_eq!(
            check(&format!("{{ ...on QueryRoot {{ {inline} }} }}")),
            Err(Limit::RootFields)
        );
        assert_eq!(
            check(&format!(
                "{{ ...F }} fragment F on QueryRoot {{ {inline} }}"
            )),
            Err(Limit::RootFields)
        );
        let many: String = (0..600).map(|_| "__typename ").collect();
        assert_eq!(
            check(&format!("{{ __schema {{ {many} }} }}")),
            Err(Limit::Complexity)
        );
    }

    #[test]
    fn operation_names_are_short_graphql_names() {
        let longest = "N".repeat(MAX_OPERATION_NAME_CHARS);
        assert!(is_plain_operation_name(&longest));
        assert!(is_plain_operation_name("_Me2"));
        for bad in ["", "2Me", "Me-too", "Ménage", "Me ", &format!("{longest}N")] {
            assert!(!is_plain_operation_name(bad), "{bad:?}");
        }
        let limits = QueryLimits::default();
        assert_eq!(
            limits.check_operation_name(Some(&format!("{longest}N"))),
            Err(operation_name_refused())
        );
        assert_eq!(limits.check_operation_name(None), Ok(()));
        assert_eq!(limits.check_operation_name(Some("")), Ok(()));
        assert_eq!(check(&format!("query {longest} {{ me {{ id }} }}")), Ok(()));
        assert_eq!(
            check(&format!("query {longest}N {{ me {{ id }} }}")),
            Err(Limit::OperationName)
        );
    }

    #[test]
    fn fragment_chains_and_cycles_are_counted_once() {
        // Each fragment spreads the next twice: 2^40 fields once flattened.
        let mut doc = String::from("{ __schema { ...F0 } }");
        for i in 0..40 {
            doc += &format!(
                " fragment F{i} on __Schema {{ ...F{n} ...F{n} }}",
                n = i + 1
            );
        }
        doc += " fragment F40 on __Schema { description }";
        assert_eq!(check(&doc), Err(Limit::Complexity));
        assert_eq!(
            check(
                "{ ...A } fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A me { id } }"
            ),
            Ok(())
        );
    }
}
