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
    /// Typed by the learner, graded against `accepted_answers`; it has no choices.
    ShortAnswer,
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
    /// What a typed answer may say (compared normalised), the first shown as the answer; empty
    /// for choice questions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_answers: Vec<String>,
    /// Where in the study text the question came from; shown with results only, as it holds
    /// the answer. `None` for a topic-only quiz and for quizzes stored before passages were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePassageRecord>,
}

/// A passage of the study text a question was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcePassageRecord {
    /// The study text from `start` to `end`, as it was given.
    pub excerpt: String,
    /// Characters (Unicode scalar values) into the study text, `end` exclusive.
    pub start: u32,
    pub end: u32,
    /// The page of the uploaded material the passage starts on (from 1); `None` without pages.
    pub page: Option<u32>,
}

/// What turns a span of the study text a generator worked on back into the text the client
/// gave: the characters trimmed from its front, and where the pages of a material begin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextOrigin {
    /// Characters trimmed from the front of the text as given.
    #[serde(default)]
    pub skipped: u32,
    /// The character offset where each page begins in the text as given; empty without pages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_starts: Vec<u32>,
}

impl TextOrigin {
    /// The passage of `text` (the trimmed study text) at the character range `chars`.
    pub fn passage(&self, text: &str, chars: std::ops::Range<usize>) -> SourcePassageRecord {
        let excerpt = text.chars().skip(chars.start).take(chars.len()).collect();
        let given = |n: usize| {
            u32::try_from(n)
                .unwrap_or(u32::MAX)
                .saturating_add(self.skipped)
        };
        let start = given(chars.start);
        SourcePassageRecord {
            excerpt,
            start,
            end: given(chars.end),
            page: super::material::page_at(&self.page_starts, start),
        }
    }
}

impl QuestionRecord {
    pub fn correct_choice(&self) -> Option<&ChoiceRecord> {
        self.choices.iter().find(|c| c.correct)
    }

    /// The answer as a result shows it: the correct choice, or the first accepted typed answer.
    pub fn correct_answer(&self) -> &str {
        match self.correct_choice() {
            Some(choice) => &choice.content,
            None => self.accepted_answers.first().map_or("", String::as_str),
        }
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
impl QuestionRecord {
    /// A true/false question whose one choice is right, for unit tests.
    pub fn sample() -> Self {
        QuestionRecord {
            number: 1,
            content: "q".into(),
            answer_type: AnswerType::TrueFalse,
            choices: vec![ChoiceRecord {
                number: 1,
                content: "True".into(),
                correct: true,
            }],
            explanation: None,
            accepted_answers: Vec::new(),
            source: None,
        }
    }
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
            questions: vec![QuestionRecord::sample()],
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
    /// `None` for a typed answer, and for a question left unanswered.
    pub selected_choice: Option<u32>,
    /// The chosen choice's text, or the text typed.
    pub selected_content: Option<String>,
    pub correct_choice: u32,
    pub correct_content: String,
    pub is_correct: bool,
    pub explanation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePassageRecord>,
    /// The model's one-line reason, when it graded a typed answer that was close but not equal
    /// to an accepted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grading_note: Option<String>,
}

impl AnswerRecord {
    /// Whether the question was answered at all (a choice picked or text typed).
    pub fn answered(&self) -> bool {
        self.selected_choice.is_some() || self.selected_content.is_some()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_and_answers_stored_before_passages_read_without_one() {
        let question: QuestionRecord = serde_json::from_str(
            r#"{"number":1,"content":"q","answer_type":"TRUE_FALSE","choices":[],"explanation":null}"#,
        )
        .unwrap();
        assert_eq!(question.source, None);
        let answer: AnswerRecord = serde_json::from_str(
            r#"{"question_number":1,"question":"q","selected_choice":null,"selected_content":null,
                "correct_choice":1,"correct_content":"True","is_correct":false,"explanation":null}"#,
        )
        .unwrap();
        assert_eq!(answer.source, None);
    }

    #[test]
    fn a_passage_is_placed_in_the_text_as_given_and_on_its_page() {
        let origin = TextOrigin {
            skipped: 2,
            page_starts: vec![0, 5, 9],
        };
        // The text as given was "\n 달은 지구를 돈다. ..." before trimming.
        let passage = origin.passage("달은 지구를 돈다. 해는 뜬다.", 3..10);
        assert_eq!(
            passage,
            SourcePassageRecord {
                excerpt: "지구를 돈다.".into(),
                start: 5,
                end: 12,
                page: Some(2),
            }
        );
        assert_eq!(TextOrigin::default().passage("abc", 1..2).page, None);
    }
}
