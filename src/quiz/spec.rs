//! What a client may ask for in `generateQuiz` and `startQuizGeneration`, and its validation
//! into the spec every generator works from.

use crate::domain::{AnswerType, AppError, AppResult, Difficulty, Message, MessageKey, TextOrigin};

pub const QUESTION_COUNT: std::ops::RangeInclusive<i32> = 1..=20;
pub const CHOICE_COUNT: std::ops::RangeInclusive<i32> = 2..=6;
pub const TOPIC_MAX_CHARS: usize = 200;
pub const SOURCE_TEXT_MAX_CHARS: usize = 100_000;

/// `generateQuiz` input as the client sent it.
#[derive(Debug, Clone)]
pub struct GenerateInput {
    pub topic: String,
    pub source_text: Option<String>,
    pub question_count: i32,
    pub choice_count: i32,
    pub difficulty: Difficulty,
    pub language: String,
    /// The one kind of question wanted; `None` for the generator's mix.
    pub answer_type: Option<AnswerType>,
    /// Where each page of the uploaded material the text comes from begins; empty otherwise.
    pub page_starts: Vec<u32>,
}

/// The same, validated.
#[derive(Debug, Clone)]
pub(super) struct QuizSpec {
    pub(super) topic: String,
    pub(super) source_text: Option<String>,
    pub(super) question_count: usize,
    pub(super) choice_count: usize,
    pub(super) difficulty: Difficulty,
    pub(super) language: String,
    pub(super) answer_type: Option<AnswerType>,
    /// How passages of the trimmed `source_text` map back to the text as given.
    pub(super) origin: TextOrigin,
}

impl GenerateInput {
    pub(super) fn validate(self) -> AppResult<QuizSpec> {
        let topic = self.topic.trim().to_owned();
        let topic_len = topic.chars().count();
        if topic_len == 0 || topic_len > TOPIC_MAX_CHARS {
            return Err(AppError::bad_input(
                "topic",
                Message::new(MessageKey::TopicLength).with("max", TOPIC_MAX_CHARS),
            ));
        }
        let skipped = self
            .source_text
            .as_deref()
            .map_or(0, |t| t.chars().take_while(|c| c.is_whitespace()).count());
        let source_text = self
            .source_text
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if let Some(text) = &source_text
            && text.chars().count() > SOURCE_TEXT_MAX_CHARS
        {
            return Err(AppError::bad_input(
                "sourceText",
                Message::new(MessageKey::SourceTextLength).with("max", SOURCE_TEXT_MAX_CHARS),
            ));
        }
        within("questionCount", self.question_count, &QUESTION_COUNT)?;
        within("choiceCount", self.choice_count, &CHOICE_COUNT)?;
        let language = self.language.trim().to_owned();
        let valid_language = (2..=35).contains(&language.len())
            && language.starts_with(|c: char| c.is_ascii_alphabetic())
            && language
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_language {
            return Err(AppError::bad_input("language", MessageKey::LanguageCode));
        }
        Ok(QuizSpec {
            topic,
            source_text,
            question_count: self.question_count as usize,
            choice_count: self.choice_count as usize,
            difficulty: self.difficulty,
            language,
            answer_type: self.answer_type,
            origin: TextOrigin {
                skipped: u32::try_from(skipped).unwrap_or(u32::MAX),
                page_starts: self.page_starts,
            },
        })
    }
}

fn within(field: &'static str, value: i32, range: &std::ops::RangeInclusive<i32>) -> AppResult<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            Message::new(MessageKey::NumberRange)
                .with("field", field)
                .with("min", *range.start())
                .with("max", *range.end()),
        ))
    }
}
