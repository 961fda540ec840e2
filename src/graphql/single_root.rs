//! The GraphQL spec's "Single root field" rule, which async-graphql's validation leaves out: a
//! subscription selects exactly one root field, and not an introspection field. Without it,
//! one subscribe with twenty root fields ran twenty streams counted as one.

use std::collections::HashSet;

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use crate::domain::{ErrorCode, Message, MessageKey};

/// Refuses a document with a subscription operation that breaks the rule.
pub fn check(doc: &ExecutableDocument) -> Result<(), ServerError> {
    for (_, operation) in doc.operations.iter() {
        if operation.node.ty != OperationType::Subscription {
            continue;
        }
        let mut keys = HashSet::new();
        collect(
            doc,
            &operation.node.selection_set.node,
            &mut keys,
            &mut HashSet::new(),
        );
        let introspection = keys.iter().any(|(_, name)| name.starts_with("__"));
        // Fields are merged by response key, as the spec's CollectFields does.
        let roots: HashSet<&str> = keys.iter().map(|(key, _)| key.as_str()).collect();
        if roots.len() != 1 || introspection {
            let error = super::error::coded_error(
                ErrorCode::BadUserInput,
                Message::new(MessageKey::SubscriptionOneRootField).with("count", roots.len()),
            );
            return Err(error.into_server_error(Default::default()));
        }
    }
    Ok(())
}

/// The root fields' (response key, field name), with fragments spread in place; each named
/// fragment once, so a cycle (refused by validation later) ends here too.
fn collect<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    keys: &mut HashSet<(String, String)>,
    spread: &mut HashSet<&'a str>,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                let key = field.alias.as_ref().unwrap_or(&field.name);
                keys.insert((key.node.to_string(), field.name.node.to_string()));
            }
            Selection::InlineFragment(fragment) => {
                collect(doc, &fragment.node.selection_set.node, keys, spread);
            }
            Selection::FragmentSpread(name) => {
                let name = name.node.fragment_name.node.as_str();
                if spread.insert(name)
                    && let Some(fragment) = doc.fragments.get(name)
                {
                    collect(doc, &fragment.node.selection_set.node, keys, spread);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn ok(query: &str) -> bool {
        check(&parse_query(query).unwrap()).is_ok()
    }

    #[test]
    fn subscriptions_select_one_root_field() {
        assert!(ok("subscription { quizEvents { kind } }"));
        assert!(ok(
            "subscription { a: quizEvents { kind } a: quizEvents { at } }"
        ));
        assert!(ok(
            "subscription { ...F } fragment F on SubscriptionRoot { quizEvents { kind } }"
        ));
        assert!(!ok(
            "subscription { a: quizEvents { kind } b: quizEvents { kind } }"
        ));
        assert!(!ok(
            "subscription { quizEvents { kind } ... on SubscriptionRoot { e: quizEvents { at } } }"
        ));
        assert!(!ok(
            "subscription { ...F ...F } fragment F on SubscriptionRoot { quizEvents { kind } other: quizEvents { kind } }"
        ));
        assert!(!ok("subscription { __typename }"));
        assert!(!ok(
            "subscription { ...A } fragment A on SubscriptionRoot { ...A }"
        ));
        // Queries and mutations may select many.
        assert!(ok("query { a: __typename b: __typename }"));
    }
}
