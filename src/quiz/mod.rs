//! Quizzes: generation (by an LLM, or offline from the user's study text), grading, history and
//! feedback. Everything is scoped to its owner; another user's quiz reads as absent.

pub mod cache;
mod checks;
mod draft;
pub mod feedback;
pub mod grading;
pub mod jobs;
pub mod live;
mod marking;
pub mod materials;
pub mod offline;
pub mod page;
mod prompt;
pub mod reply;
pub mod review;
mod service;
mod spec;
pub mod typed;

use draft::{Draft, offline_text};
pub use service::QuizService;
use spec::QuizSpec;
pub use spec::{
    CHOICE_COUNT, GenerateInput, QUESTION_COUNT, SOURCE_TEXT_MAX_CHARS, TOPIC_MAX_CHARS,
};
