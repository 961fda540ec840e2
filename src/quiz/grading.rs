//! Grading a submission into a self-contained snapshot.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::{
    domain::{AnswerRecord, QuizRecord, QuizResultRecord, ResultId, UserId},
    domain::{AppError, AppResult, Message, MessageKey},
};

/// One answer as submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub question_number: i32,
    pub choice_number: i32,
}

/// Grades `answers` against `quiz`. Unknown question or choice numbers and duplicate answers are
/// refused; unanswered questions count as wrong.
pub fn grade(
    quiz: &QuizRecord,
    owner: &UserId,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> AppResult<QuizResultRecord> {
    let mut chosen: HashMap<u32, u32> = HashMap::new();
    for a in answers {
        let question = u32::try_from(a.question_number)
            .ok()
            .and_then(|n| quiz.questions.iter().find(|q| q.number == n))
            .ok_or_else(|| {
                AppError::bad_input(
                    "answers",
                    Message::new(MessageKey::QuestionMissing)
                        .with("number", a.question_number)
                        .with("count", quiz.questions.len()),
                )
            })?;
        let choice = u32::try_from(a.choice_number)
            .ok()
            .filter(|n| question.choices.iter().any(|c| c.number == *n))
            .ok_or_else(|| {
                AppError::bad_input(
                    "answers",
                    Message::new(MessageKey::ChoiceMissing)
                        .with("number", question.number)
                        .with("choice", a.choice_number)
                        .with("count", question.choices.len()),
                )
            })?;
        if chosen.insert(question.number, choice).is_some() {
            return Err(AppError::bad_input(
                "answers",
                Message::new(MessageKey::AnsweredTwice).with("number", question.number),
            ));
        }
    }
    let details: Vec<AnswerRecord> = quiz
        .questions
        .iter()
        .map(|q| {
            let correct = q.correct_choice();
            let selected = chosen
                .get(&q.number)
                .and_then(|n| q.choices.iter().find(|c| c.number == *n));
            AnswerRecord {
                question_number: q.number,
                question: q.content.clone(),
                selected_choice: selected.map(|c| c.number),
                selected_content: selected.map(|c| c.content.clone()),
                correct_choice: correct.map_or(0, |c| c.number),
                correct_content: correct.map(|c| c.content.clone()).unwrap_or_default(),
                is_correct: selected.is_some_and(|c| c.correct),
                explanation: q.explanation.clone(),
                source: q.source.clone(),
            }
        })
        .collect();
    let total = details.len() as u32;
    let correct = details.iter().filter(|d| d.is_correct).count() as u32;
    Ok(QuizResultRecord {
        id: ResultId::new_random(),
        owner: owner.clone(),
        quiz_id: quiz.id.clone(),
        quiz_title: quiz.title.clone(),
        language: quiz.language.clone(),
        answers: details,
        correct_count: correct,
        total_questions: total,
        score: if total == 0 {
            0.0
        } else {
            f64::from(correct) * 100.0 / f64::from(total)
        },
        submitted_at: now,
        feedback: None,
    })
}
