//! A quiz's questions, resolved in one pass. async-graphql resolves an object's fields as one
//! boxed future and task each; a page of 20 quizzes holds thousands of question and choice
//! fields, all plain data, and that machinery was a third of the page's CPU. Here the
//! selection is read once into a plan, then each question is filled in from it.
//!
//! The schema types stay the derived [`Question`] and [`Choice`]; a test checks that both
//! resolve any selection alike.

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, InputType, Name, OutputType, Positioned, SelectionField, ServerResult,
    Value, indexmap::IndexMap, parser::types::Field, registry::Registry,
};

use super::quiz::{AnswerType, Choice, Question, int};
use crate::domain::{ChoiceRecord, QuestionRecord};

/// `[Question!]!`, for a quiz's questions.
pub struct Questions<'a>(pub &'a [QuestionRecord]);

impl OutputType for Questions<'_> {
    fn type_name() -> Cow<'static, str> {
        <Vec<Question<'static>> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Question<'static>> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Question<'static>> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let ctx = ctx.with_field(field);
        let plan = Plan::of(ctx.field(), question_field);
        Ok(Value::List(
            self.0
                .iter()
                .map(|q| plan.fill(q, question_value))
                .collect(),
        ))
    }
}

#[derive(Debug, Clone)]
enum QuestionField {
    Typename,
    Number,
    Content,
    AnswerType,
    Choices(Plan<ChoiceField>),
}

#[derive(Debug, Clone)]
enum ChoiceField {
    Typename,
    Number,
    Content,
}

/// What each response key of an object holds, in selection order. A key selected twice (with
/// validation's guarantee that it is the same field) has its sub-selections merged.
#[derive(Debug, Clone)]
struct Plan<F>(Vec<(Name, F)>);

impl<F: Merge> Plan<F> {
    fn of(selection: SelectionField<'_>, field: fn(SelectionField<'_>) -> Option<F>) -> Self {
        let mut plan: Vec<(Name, F)> = Vec::new();
        for sub in selection.selection_set() {
            let Some(resolved) = field(sub) else { continue };
            let key = sub.alias().unwrap_or(sub.name());
            match plan.iter_mut().find(|(k, _)| k.as_str() == key) {
                Some((_, existing)) => existing.merge(resolved),
                None => plan.push((Name::new(key), resolved)),
            }
        }
        Plan(plan)
    }

    fn fill<T>(&self, item: &T, value: fn(&F, &T) -> Value) -> Value {
        let mut object = IndexMap::with_capacity(self.0.len());
        for (key, field) in &self.0 {
            object.insert(key.clone(), value(field, item));
        }
        Value::Object(object)
    }
}

trait Merge {
    fn merge(&mut self, other: Self);
}

impl Merge for QuestionField {
    fn merge(&mut self, other: Self) {
        if let (QuestionField::Choices(mine), QuestionField::Choices(theirs)) = (self, other) {
            for (key, field) in theirs.0 {
                if !mine.0.iter().any(|(k, _)| *k == key) {
                    mine.0.push((key, field));
                }
            }
        }
    }
}

impl Merge for ChoiceField {
    fn merge(&mut self, _: Self) {}
}

/// Fields validation let through that are not listed here cannot exist on the type; they are
/// left out rather than answered wrongly (and the equivalence test would fail).
fn question_field(sub: SelectionField<'_>) -> Option<QuestionField> {
    Some(match sub.name() {
        "__typename" => QuestionField::Typename,
        "number" => QuestionField::Number,
        "content" => QuestionField::Content,
        "answerType" => QuestionField::AnswerType,
        "choices" => QuestionField::Choices(Plan::of(sub, choice_field)),
        _ => return None,
    })
}

fn choice_field(sub: SelectionField<'_>) -> Option<ChoiceField> {
    Some(match sub.name() {
        "__typename" => ChoiceField::Typename,
        "number" => ChoiceField::Number,
        "content" => ChoiceField::Content,
        _ => return None,
    })
}

fn question_value(field: &QuestionField, q: &QuestionRecord) -> Value {
    match field {
        QuestionField::Typename => {
            Value::String(<Question<'static> as OutputType>::type_name().into_owned())
        }
        QuestionField::Number => number(q.number),
        QuestionField::Content => Value::String(q.content.clone()),
        QuestionField::AnswerType => AnswerType::from(q.answer_type).to_value(),
        QuestionField::Choices(plan) => Value::List(
            q.choices
                .iter()
                .map(|c| plan.fill(c, choice_value))
                .collect(),
        ),
    }
}

fn choice_value(field: &ChoiceField, c: &ChoiceRecord) -> Value {
    match field {
        ChoiceField::Typename => {
            Value::String(<Choice<'static> as OutputType>::type_name().into_owned())
        }
        ChoiceField::Number => number(c.number),
        ChoiceField::Content => Value::String(c.content.clone()),
    }
}

fn number(n: u32) -> Value {
    Value::Number(int(n).into())
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, Variables};
    use serde_json::json;

    use super::*;
    use crate::domain::AnswerType as StoredAnswerType;

    /// The same questions, resolved one pass at a time and by the derived objects.
    struct Both(Vec<QuestionRecord>);

    #[Object]
    impl Both {
        async fn one_pass(&self) -> Questions<'_> {
            Questions(&self.0)
        }

        async fn derived(&self) -> Vec<Question<'_>> {
            self.0.iter().map(Question).collect()
        }
    }

    fn questions() -> Vec<QuestionRecord> {
        (1..=3)
            .map(|n| QuestionRecord {
                number: n,
                content: format!("Question {n}?"),
                answer_type: if n == 2 {
                    StoredAnswerType::TrueFalse
                } else {
                    StoredAnswerType::MultipleChoice
                },
                choices: (1..=n + 1)
                    .map(|c| ChoiceRecord {
                        number: c,
                        content: format!("choice {c} of {n}"),
                        correct: c == 1,
                    })
                    .collect(),
                explanation: Some("why".into()),
                accepted_answers: Vec::new(),
                source: None,
            })
            .collect()
    }

    async fn run(
        schema: &Schema<Both, EmptyMutation, EmptySubscription>,
        query: String,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let response = schema
            .execute(async_graphql::Request::new(query).variables(Variables::from_json(variables)))
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response.data.into_json().unwrap()
    }

    /// Whatever a client selects (every field, aliases, repeats, fragments, `@skip` and
    /// `@include`), one pass answers exactly what the derived objects answer.
    #[tokio::test]
    async fn one_pass_answers_as_the_derived_objects_do() {
        let schema = Schema::new(Both(questions()), EmptyMutation, EmptySubscription);
        let fields_of = |ty: &'static str| {
            let schema = &schema;
            async move {
                let r = run(
                    schema,
                    format!("{{ __type(name: \"{ty}\") {{ fields {{ name }} }} }}"),
                    json!({}),
                )
                .await;
                r["__type"]["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["name"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let choice = fields_of("Choice").await.join(" ");
        let every_field: Vec<String> = fields_of("Question")
            .await
            .into_iter()
            .map(|f| match f.as_str() {
                "choices" => format!("choices {{ __typename {choice} }}"),
                _ => f,
            })
            .collect();
        assert!(every_field.len() >= 4, "{every_field:?}");
        let every_field = format!("__typename {}", every_field.join(" "));

        let selections = [
            every_field.as_str(),
            "a: number n: number number content choices { number } choices { content c: content }",
            "...Q ... on Question { choices { ...C } answerType } choices { __typename }",
            "... { content } number @skip(if: $yes) choices @include(if: $yes) { content } \
             choices { number @include(if: $no) content @skip(if: $no) }",
        ];
        const FRAGMENTS: &str = "fragment Q on Question { number content k: answerType } \
                                 fragment C on Choice { number label: content }";
        for selection in selections {
            let variables = if selection.contains('$') {
                "($yes: Boolean = true, $no: Boolean = false)"
            } else {
                ""
            };
            let fragments = if selection.contains("...Q") {
                FRAGMENTS
            } else {
                ""
            };
            let query = format!(
                "query{variables} {{ onePass {{ {selection} }} derived {{ {selection} }} }} \
                 {fragments}"
            );
            let data = run(&schema, query, json!({})).await;
            assert!(
                data["derived"].as_array().is_some_and(|a| a.len() == 3),
                "{data}"
            );
            assert_eq!(data["onePass"], data["derived"], "{selection}");
        }
    }
}
