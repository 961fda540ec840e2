//! Feedback on a graded result: which questions went wrong, the right answer and how to get
//! there. Built from the result itself when no LLM is configured (or when it fails).

use crate::{
    domain::{
        FeedbackRecord, Locale, Message, MessageKey, QuestionFeedbackRecord, QuizResultRecord,
    },
    i18n, llm,
};

/// Feedback built from the result alone, in the quiz's language (English when the catalogues
/// have none for it).
pub fn offline(result: &QuizResultRecord) -> FeedbackRecord {
    let locale = Locale::from_tag(&result.language).unwrap_or_default();
    let say = |message: Message| i18n::render(locale, &message);
    let score = format!("{:.0}", result.score);
    let wrong: Vec<_> = result.answers.iter().filter(|a| !a.is_correct).collect();
    let summary = if wrong.is_empty() {
        say(Message::new(MessageKey::FeedbackAllRight)
            .with("total", result.total_questions)
            .with("score", score))
    } else {
        let numbers = wrong
            .iter()
            .map(|a| a.question_number.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        say(Message::new(MessageKey::FeedbackSummary)
            .with("correct", result.correct_count)
            .with("total", result.total_questions)
            .with("score", score)
            .with("count", wrong.len())
            .with("numbers", numbers))
    };
    let items = wrong
        .iter()
        .map(|a| {
            let answer = a.correct_content.as_str();
            let mut feedback = match (&a.selected_content, a.selected_choice) {
                (Some(chosen), Some(_)) => say(Message::new(MessageKey::FeedbackChose)
                    .with("chosen", chosen.as_str())
                    .with("answer", answer)),
                (Some(typed), None) => say(Message::new(MessageKey::FeedbackWrote)
                    .with("typed", typed.as_str())
                    .with("answer", answer)),
                (None, _) => {
                    say(Message::new(MessageKey::FeedbackUnanswered).with("answer", answer))
                }
            };
            for extra in [a.grading_note.as_deref(), a.explanation.as_deref()]
                .into_iter()
                .flatten()
                .filter(|e| !e.is_empty())
            {
                feedback.push(' ');
                feedback.push_str(extra);
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
pub fn llm_messages(result: &QuizResultRecord) -> Vec<llm::Message> {
    let details = serde_json::to_string_pretty(&result.answers).unwrap_or_default();
    vec![
        llm::Message::system(
            "You are a patient tutor. Given a graded quiz, explain briefly what went wrong, in \
             the language the user asks for. Reply only with JSON following the schema.",
        ),
        llm::Message::user(format!(
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
