//! Offline multiple-choice quiz generation from a user's own study text.
//!
//! Used when no LLM is configured. Questions are cloze ("fill in the blank")
//! items cut from the text's own sentences, so every correct answer is a
//! verbatim piece of the text and nothing has to be invented. Distractors are
//! other key terms of the same text, preferably of the same kind (a year for a
//! year, a name for a name). Everything is deterministic for a given input and
//! seed, which keeps retries and tests reproducible; [`content_seed`] derives
//! the seed from the input with a fixed algorithm.
//!
//! Works for any language that unicode-segmentation can split into words;
//! English gets a stop-word list and proper-noun detection, Korean gets
//! particle stripping ("서울은" -> "서울"). Scripts written without spaces
//! (Chinese, Japanese kana) yield few terms beyond numbers and Latin names.
//!
//! The pipeline, one module per step: `sentences` cuts the text into
//! sentences and word tokens (with `language` rules for stems and stop
//! words), `terms` decides which words are key terms, `selection` picks
//! which sentence/term pairs become questions, `distractors` finds the wrong
//! choices, and `assembly` runs it all and builds the questions.

mod assembly;
mod distractors;
mod language;
mod rng;
mod selection;
mod sentences;
mod terms;

#[cfg(test)]
mod fixtures;

use std::fmt;

pub use assembly::{generate, generate_reporting};
pub use language::particle_stems;
pub use rng::content_seed;

pub use crate::domain::Difficulty;
use crate::{
    domain::{Locale, Message, MessageKey},
    i18n::render,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineRequest<'a> {
    pub topic: &'a str,
    pub source_text: &'a str,
    pub question_count: usize,
    pub choice_count: usize,
    pub difficulty: Difficulty,
    pub seed: u64,
    /// The language the questions are asked in (the study text's own sentences stay as they are).
    pub locale: Locale,
}

/// The quiz's description, in its language.
pub fn description(locale: Locale, question_count: usize) -> String {
    render(
        locale,
        &Message::new(MessageKey::OfflineDescription).with("count", question_count),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedChoice {
    pub content: String,
    pub correct: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedQuestion {
    pub content: String,
    pub choices: Vec<GeneratedChoice>,
    pub explanation: Option<String>,
    /// The byte range of the study text the question's sentence was cut from.
    pub passage: std::ops::Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineError {
    /// The text supports only `possible` distinct questions with the
    /// requested number of choices (0 when it supports none).
    NotEnoughMaterial { possible: usize, requested: usize },
}

impl fmt::Display for OfflineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OfflineError::NotEnoughMaterial {
                possible: 0,
                requested,
            } => write!(
                f,
                "the study text yields no usable questions with the requested number of choices \
                 ({requested} requested); add more text or ask for fewer choices"
            ),
            OfflineError::NotEnoughMaterial {
                possible,
                requested,
            } => write!(
                f,
                "the study text yields at most {possible} distinct questions with the requested \
                 number of choices ({requested} requested); ask for {possible} or fewer, or add more text"
            ),
        }
    }
}

impl std::error::Error for OfflineError {}
