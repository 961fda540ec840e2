//! Feedback on a graded result: which questions went wrong, the right answer and how to get
//! there. Built from the result itself when no LLM is configured (or when it fails).

use crate::domain::{FeedbackRecord, QuestionFeedbackRecord, QuizResultRecord};
use crate::llm::Message;

pub fn offline(result: &QuizResultRecord) -> FeedbackRecord {
    let wrong: Vec<_> = result.answers.iter().filter(|a| !a.is_correct).collect();
    let summary = if wrong.is_empty() {
        format!(
            "All {} answers are correct ({:.0}%). Well done!",
            result.total_questions, result.score
        )
    } else {
        let numbers = wrong
            .iter()
            .map(|a| a.question_number.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "You got {} of {} right ({:.0}%). Review question{} {numbers}.",
            result.correct_count,
            result.total_questions,
            result.score,
            if wrong.len() == 1 { "" } else { "s" }
        )
    };
    let items = wrong
        .iter()
        .map(|a| {
            let mut feedback = match &a.selected_content {
                Some(chosen) => format!(
                    "You chose \"{chosen}\", but the answer is \"{}\".",
                    a.correct_content
                ),
                None => format!("Not answered. The answer is \"{}\".", a.correct_content),
            };
            if let Some(why) = a.explanation.as_deref().filter(|e| !e.is_empty()) {
                feedback.push(' ');
                feedback.push_str(why);
            }
            QuestionFeedbackRecord {
                question_number: a.question_number,
                feedback,
            }
        })
        .collect();
    FeedbackRecord { summary, items }
}

/// The request for LLM feedback: the whole result in one call, answered in the quiz's language.
pub fn llm_messages(result: &QuizResultRecord) -> Vec<Message> {
    let details = serde_json::to_string_pretty(&result.answers).unwrap_or_default();
    vec![
        Message::system(
            "You are a patient tutor. Given a graded quiz, explain briefly what went wrong, in \
             the language the user asks for. Reply only with JSON following the schema.",
        ),
        Message::user(format!(
            "Write the summary and every feedback item in {language} (language code \
             \"{code}\"), the language of the quiz.\n\
             The student answered {correct} of {total} questions correctly.\n\
             `summary`: two or three sentences on how it went and what to review.\n\
             `items`: one entry for each question answered wrongly or left unanswered \
             (is_correct = false), with its question_number and feedback that names the right \
             answer and shows how to reach it. No entries for correct answers.\n\n\
             Graded answers:\n{details}",
            language = super::prompt::language_name(&result.language),
            code = result.language,
            correct = result.correct_count,
            total = result.total_questions,
        )),
    ]
}
