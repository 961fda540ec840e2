//! The model's say on typed answers that are close to an accepted one but not equal ("photo
//! synthesis", "Seoul city"): asked once per submission, in the quiz language, with a one-line
//! reason. Without a model, or when it fails, a close answer stays wrong: the learner loses a
//! point, never gains one they did not earn.

use std::collections::HashMap;

use super::{prompt::language_name, reply::LlmGrades};
use crate::llm::{LlmClient, Message};

/// A typed answer the model is to judge.
#[derive(Debug, Clone)]
pub struct CloseAnswer<'a> {
    pub question_number: u32,
    pub question: &'a str,
    pub accepted: &'a [String],
    pub typed: &'a str,
}

/// The model's verdicts by question number: right or not, and why.
pub type Judgements = HashMap<u32, (bool, String)>;

fn messages(language: &str, answers: &[CloseAnswer<'_>]) -> Vec<Message> {
    let items: Vec<serde_json::Value> = answers
        .iter()
        .map(|a| {
            serde_json::json!({
                "question_number": a.question_number,
                "question": a.question,
                "accepted_answers": a.accepted,
                "typed_answer": a.typed,
            })
        })
        .collect();
    vec![
        Message::system(
            "You grade short typed answers to quiz questions fairly and strictly. Reply only \
             with JSON following the schema.",
        ),
        Message::user(format!(
            "Each item has a question, the answers accepted for it, and what a student typed, \
             which is close to an accepted answer but not the same. For each item decide \
             whether the typed answer means the same as an accepted answer (a misspelling of \
             the same word or an added harmless word is correct; a different word, a different \
             number or a different thing is not). Give every question_number exactly once, with \
             a one-sentence reason in {language}.\n\nItems:\n{items}",
            language = language_name(language),
            items = serde_json::to_string_pretty(&items).unwrap_or_default(),
        )),
    ]
}

fn check(reply: &LlmGrades, answers: &[CloseAnswer<'_>]) -> Result<(), String> {
    for a in answers {
        let n = i64::from(a.question_number);
        match reply
            .grades
            .iter()
            .filter(|g| g.question_number == n)
            .count()
        {
            1 => {}
            0 => return Err(format!("question_number {n} is not graded")),
            _ => return Err(format!("question_number {n} is graded more than once")),
        }
    }
    if let Some(g) = reply.grades.iter().find(|g| {
        !answers
            .iter()
            .any(|a| i64::from(a.question_number) == g.question_number)
    }) {
        return Err(format!(
            "question_number {} was not asked about",
            g.question_number
        ));
    }
    if reply.grades.iter().any(|g| g.reason.trim().is_empty()) {
        return Err("every grade needs a reason".into());
    }
    Ok(())
}

/// Asks the model about `answers` in one call; empty when there is nothing to ask or the model
/// fails (logged).
pub async fn judge(llm: &LlmClient, language: &str, answers: &[CloseAnswer<'_>]) -> Judgements {
    if answers.is_empty() {
        return Judgements::new();
    }
    let reply = llm
        .ask::<LlmGrades, _>("typed_answer_grades", messages(language, answers), |r| {
            check(r, answers)
        })
        .await;
    match reply {
        Ok(reply) => reply
            .grades
            .into_iter()
            .filter_map(|g| {
                let n = u32::try_from(g.question_number).ok()?;
                Some((n, (g.correct, g.reason.trim().to_owned())))
            })
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, "grading typed answers by the LLM failed; close answers stay wrong");
            Judgements::new()
        }
    }
}
