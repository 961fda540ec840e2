//! Quizzes: generated offline from study text, or by an LLM (a fake one, and a real one when
//! `LLM_TEST_URL` is set); graded, listed and deleted.

mod llm;
mod materials;
pub(crate) mod offline;
mod passages;
mod real_model;
mod short_answers;
