//! Quizzes: generated offline from study text, or by an LLM; graded, listed and deleted.

mod llm;
pub(crate) mod offline;
