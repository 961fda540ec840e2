//! What the model must return for a quiz or for feedback: the reply types, whose JSON schema is
//! sent as the structured-output format, and a counter of the questions a streamed reply has
//! completed so far.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{CHOICE_COUNT, QUESTION_COUNT, TOPIC_MAX_CHARS};

// Every string and array in a reply has a bound, so a grammar-constrained model cannot write one
// string until it runs out of tokens. The counts come from what a client may ask for; the
// lengths are generous for one question, choice or explanation and small next to a context.
const QUESTIONS_MIN: usize = *QUESTION_COUNT.start() as usize;
const QUESTIONS_MAX: usize = *QUESTION_COUNT.end() as usize;
const CHOICES_MIN: usize = *CHOICE_COUNT.start() as usize;
const CHOICES_MAX: usize = *CHOICE_COUNT.end() as usize;
/// Characters, as JSON Schema's `maxLength` counts them.
const DESCRIPTION_MAX_CHARS: usize = 300;
const QUESTION_MAX_CHARS: usize = 300;
const CHOICE_MAX_CHARS: usize = 120;
const EXPLANATION_MAX_CHARS: usize = 400;
const QUOTE_MAX_CHARS: usize = 300;
const SUMMARY_MAX_CHARS: usize = 600;
const FEEDBACK_MAX_CHARS: usize = 400;
const REASON_MAX_CHARS: usize = 200;

/// The quiz exactly as the model must return it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmQuiz {
    #[schemars(length(max = TOPIC_MAX_CHARS))]
    pub title: String,
    #[schemars(length(max = DESCRIPTION_MAX_CHARS))]
    pub description: String,
    #[schemars(length(min = QUESTIONS_MIN, max = QUESTIONS_MAX))]
    pub questions: Vec<LlmQuestion>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmQuestion {
    #[schemars(length(max = QUESTION_MAX_CHARS))]
    pub content: String,
    pub answer_type: LlmAnswerType,
    #[schemars(length(min = CHOICES_MIN, max = CHOICES_MAX))]
    pub choices: Vec<LlmChoice>,
    /// Why the correct answer is correct.
    #[schemars(length(max = EXPLANATION_MAX_CHARS))]
    pub explanation: String,
    /// The sentence of the study text the question is built from, word for word (empty
    /// without study text). Required by the schema; a reply without it fails the check when
    /// there is study text.
    #[serde(default)]
    #[schemars(length(max = QUOTE_MAX_CHARS))]
    pub quote: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LlmAnswerType {
    MultipleChoice,
    TrueFalse,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmChoice {
    #[schemars(length(max = CHOICE_MAX_CHARS))]
    pub content: String,
    pub is_correct: bool,
}

/// Feedback on one graded submission, as the model must return it.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmFeedback {
    #[schemars(length(max = SUMMARY_MAX_CHARS))]
    pub summary: String,
    #[schemars(length(max = QUESTIONS_MAX))]
    pub items: Vec<LlmFeedbackItem>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmFeedbackItem {
    pub question_number: i64,
    #[schemars(length(max = FEEDBACK_MAX_CHARS))]
    pub feedback: String,
}

/// The model's judgement of typed answers that were close to an accepted one.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmGrades {
    #[schemars(length(max = QUESTIONS_MAX))]
    pub grades: Vec<LlmGrade>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmGrade {
    pub question_number: i64,
    /// Whether the typed answer means the same as an accepted answer.
    pub correct: bool,
    /// One line on why, in the quiz language.
    #[schemars(length(max = REASON_MAX_CHARS))]
    pub reason: String,
}

/// Counts the question objects completed so far in a quiz reply that is still arriving: the
/// objects closed inside the top-level `"questions"` array. Fed the text as it grows.
#[derive(Debug, Default)]
pub struct QuestionCounter {
    seen: usize,
    /// Open containers, `{` or `[`.
    stack: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// The last string read directly inside the top-level object (a key, once `:` follows).
    string: String,
    top_key: String,
    completed: usize,
}

impl QuestionCounter {
    /// The questions complete in `text`, which extends the text of the previous call (an empty
    /// or shorter text starts over).
    pub fn count(&mut self, text: &str) -> usize {
        if text.len() < self.seen || !text.is_char_boundary(self.seen) {
            *self = QuestionCounter::default();
        }
        for c in text[self.seen..].chars() {
            self.feed(c);
        }
        self.seen = text.len();
        self.completed
    }

    fn feed(&mut self, c: char) {
        let top_level = self.stack.len() == 1;
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
                return;
            } else if c == '"' {
                self.in_string = false;
                return;
            }
            if top_level && self.string.len() < 64 {
                self.string.push(c);
            }
            return;
        }
        match c {
            '"' => {
                self.in_string = true;
                self.string.clear();
            }
            ':' if top_level => self.top_key = std::mem::take(&mut self.string),
            '{' => self.stack.push(b'{'),
            '[' => self.stack.push(b'['),
            '}' | ']' => {
                let closed = self.stack.pop();
                if closed == Some(b'{') && self.stack == b"{[" && self.top_key == "questions" {
                    self.completed += 1;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::response_schema;
    use serde_json::json;

    #[test]
    fn questions_are_counted_as_they_complete() {
        let reply = json!({
            "title": "T {not} [a] \"question\"",
            "description": "d",
            "questions": [
                { "content": "q1 }", "answer_type": "true_false",
                  "choices": [{ "content": "True", "is_correct": true }], "explanation": "{" },
                { "content": "q2", "answer_type": "multiple_choice", "choices": [], "explanation": "" },
            ],
        })
        .to_string();
        let mut counter = QuestionCounter::default();
        let mut counts = Vec::new();
        for end in (0..=reply.len()).filter(|&i| reply.is_char_boundary(i)) {
            counts.push(counter.count(&reply[..end]));
        }
        assert_eq!(*counts.last().unwrap(), 2);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "never goes back");
        let first = reply.find("\"q2\"").unwrap();
        assert_eq!(QuestionCounter::default().count(&reply[..first]), 1);
        assert_eq!(counter.count(""), 0, "an empty text starts over");
    }

    #[test]
    fn schemas_are_strict() {
        let schema = response_schema::<LlmQuiz>();
        let text = schema.to_string();
        assert!(!text.contains("\"format\""));
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["required"],
            json!(["title", "description", "questions"])
        );
        let question = &schema["$defs"]["LlmQuestion"];
        assert_eq!(question["additionalProperties"], false);
        assert_eq!(question["required"].as_array().unwrap().len(), 5);
    }
}
