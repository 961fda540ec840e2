//! Quizzes and graded results, as the stores keep them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{QuizId, ResultId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnswerType {
    MultipleChoice,
    TrueFalse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuizSource {
    Llm,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceRecord {
    pub number: u32,
    pub content: String,
    pub correct: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionRecord {
    pub number: u32,
    pub content: String,
    pub answer_type: AnswerType,
    pub choices: Vec<ChoiceRecord>,
    pub explanation: Option<String>,
}

impl QuestionRecord {
    pub fn correct_choice(&self) -> Option<&ChoiceRecord> {
        self.choices.iter().find(|c| c.correct)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizRecord {
    pub id: QuizId,
    pub owner: UserId,
    pub title: String,
    pub description: String,
    pub topic: String,
    pub difficulty: Difficulty,
    pub source: QuizSource,
    /// The language questions were written in; feedback uses it too.
    pub language: String,
    pub questions: Vec<QuestionRecord>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
impl QuizRecord {
    /// A one-question true/false quiz, for unit tests.
    pub fn sample(id: QuizId, owner: UserId, created_at: DateTime<Utc>) -> Self {
        QuizRecord {
            id,
            owner,
            title: "t".into(),
            description: "d".into(),
            topic: "p".into(),
            difficulty: Difficulty::Easy,
            source: QuizSource::Offline,
            language: "en".into(),
            questions: vec![QuestionRecord {
                number: 1,
                content: "q".into(),
                answer_type: AnswerType::TrueFalse,
                choices: vec![ChoiceRecord {
                    number: 1,
                    content: "True".into(),
                    correct: true,
                }],
                explanation: None,
            }],
            created_at,
        }
    }
}

/// Where a quiz sits in its owner's newest-first list: what a page needs from the store before
/// the quizzes themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuizKey {
    pub id: QuizId,
    pub created_at: DateTime<Utc>,
}

/// A page of an owner's quizzes as the store lists it, and how many quizzes they have in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuizKeyPage {
    pub keys: Vec<QuizKey>,
    pub total: u64,
}

/// One graded question, kept as a snapshot: deleting the quiz changes nothing here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub question_number: u32,
    pub question: String,
    pub selected_choice: Option<u32>,
    pub selected_content: Option<String>,
    pub correct_choice: u32,
    pub correct_content: String,
    pub is_correct: bool,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionFeedbackRecord {
    pub question_number: u32,
    pub feedback: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRecord {
    pub summary: String,
    pub items: Vec<QuestionFeedbackRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuizResultRecord {
    pub id: ResultId,
    pub owner: UserId,
    pub quiz_id: QuizId,
    pub quiz_title: String,
    pub language: String,
    pub answers: Vec<AnswerRecord>,
    pub correct_count: u32,
    pub total_questions: u32,
    /// Percentage, 0..=100.
    pub score: f64,
    pub submitted_at: DateTime<Utc>,
    /// Filled in on first request and kept.
    pub feedback: Option<FeedbackRecord>,
}

/// Where a newest-first page starts: strictly after this (time, id) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAfter {
    pub at: DateTime<Utc>,
    pub id: String,
}
