//! Grading a submission into a self-contained snapshot.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::typed::{self, Verdict};
use crate::domain::{
    AnswerRecord, AnswerType, AppError, AppResult, ChoiceRecord, Message, MessageKey,
    QuestionRecord, QuizRecord, QuizResultRecord, ResultId, UserId,
};

/// One answer as submitted: a choice, or text typed for a short-answer question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub question_number: i32,
    pub choice_number: Option<i32>,
    pub text: Option<String>,
}

/// What a learner gave for one question, checked against it.
#[derive(Debug, Clone, PartialEq)]
pub enum Given<'q> {
    Choice(&'q ChoiceRecord),
    Text(String),
}

/// The learner's answer to `question`: a choice for a choice question, 1 to 500 characters of
/// text for a short answer; anything else is `BAD_USER_INPUT` on `field` (`answers` in a quiz,
/// the argument's own name in a review).
pub fn given<'q>(
    question: &'q QuestionRecord,
    choice_number: Option<i32>,
    text: Option<&str>,
    fields: [&'static str; 2],
) -> AppResult<Given<'q>> {
    let [choice_field, text_field] = fields;
    let refuse = |field, key| {
        Err(AppError::bad_input(
            field,
            Message::new(key).with("number", question.number),
        ))
    };
    if question.answer_type == AnswerType::ShortAnswer {
        let Some(text) = text.filter(|_| choice_number.is_none()) else {
            let field = if choice_number.is_some() {
                choice_field
            } else {
                text_field
            };
            return refuse(field, MessageKey::AnswerNeedsText);
        };
        let typed = text.trim();
        if typed.is_empty() || typed.chars().count() > typed::TEXT_MAX_CHARS {
            return Err(AppError::bad_input(
                text_field,
                Message::new(MessageKey::AnswerTextLength)
                    .with("number", question.number)
                    .with("max", typed::TEXT_MAX_CHARS),
            ));
        }
        return Ok(Given::Text(typed.to_owned()));
    }
    let Some(choice) = choice_number.filter(|_| text.is_none()) else {
        let field = if text.is_some() {
            text_field
        } else {
            choice_field
        };
        return refuse(field, MessageKey::AnswerNeedsChoice);
    };
    u32::try_from(choice)
        .ok()
        .and_then(|n| question.choices.iter().find(|c| c.number == n))
        .map(Given::Choice)
        .ok_or_else(|| {
            AppError::bad_input(
                choice_field,
                Message::new(MessageKey::ChoiceMissing)
                    .with("number", question.number)
                    .with("choice", choice)
                    .with("count", question.choices.len()),
            )
        })
}

impl Given<'_> {
    /// Right or not, and whether a typed answer is close enough to ask the model about.
    pub fn verdict(&self, question: &QuestionRecord, language: &str) -> Verdict {
        match self {
            Given::Choice(c) if c.correct => Verdict::Right,
            Given::Choice(_) => Verdict::Wrong,
            Given::Text(text) => typed::judge(text, &question.accepted_answers, language),
        }
    }
}

/// A graded submission, and the typed answers close enough to an accepted one for the model to
/// judge (by question number).
#[derive(Debug)]
pub struct Graded {
    pub result: QuizResultRecord,
    pub close: Vec<u32>,
}

/// Grades `answers` against `quiz`. Unknown question or choice numbers, answers of the wrong
/// kind and duplicate answers are refused; unanswered questions count as wrong.
pub fn grade(
    quiz: &QuizRecord,
    owner: &UserId,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> AppResult<Graded> {
    let mut given: HashMap<u32, Given<'_>> = HashMap::new();
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
        let answer = self::given(
            question,
            a.choice_number,
            a.text.as_deref(),
            ["answers", "answers"],
        )?;
        if given.insert(question.number, answer).is_some() {
            return Err(AppError::bad_input(
                "answers",
                Message::new(MessageKey::AnsweredTwice).with("number", question.number),
            ));
        }
    }
    let mut close = Vec::new();
    let details: Vec<AnswerRecord> = quiz
        .questions
        .iter()
        .map(|q| {
            let answer = given.get(&q.number);
            let verdict = answer.map_or(Verdict::Wrong, |a| a.verdict(q, &quiz.language));
            if verdict == Verdict::Close {
                close.push(q.number);
            }
            let correct = q.correct_choice();
            AnswerRecord {
                question_number: q.number,
                question: q.content.clone(),
                selected_choice: match answer {
                    Some(Given::Choice(c)) => Some(c.number),
                    _ => None,
                },
                selected_content: answer.map(|a| match a {
                    Given::Choice(c) => c.content.clone(),
                    Given::Text(text) => text.clone(),
                }),
                correct_choice: correct.map_or(0, |c| c.number),
                correct_content: q.correct_answer().to_owned(),
                is_correct: verdict == Verdict::Right,
                explanation: q.explanation.clone(),
                source: q.source.clone(),
                grading_note: None,
            }
        })
        .collect();
    let mut result = QuizResultRecord {
        id: ResultId::new_random(),
        owner: owner.clone(),
        quiz_id: quiz.id.clone(),
        quiz_title: quiz.title.clone(),
        language: quiz.language.clone(),
        answers: details,
        correct_count: 0,
        total_questions: 0,
        score: 0.0,
        submitted_at: now,
        feedback: None,
    };
    recount(&mut result);
    Ok(Graded { result, close })
}

/// Sets the counts and score from the graded answers, after the model has judged some.
pub fn recount(result: &mut QuizResultRecord) {
    let total = result.answers.len() as u32;
    let correct = result.answers.iter().filter(|d| d.is_correct).count() as u32;
    result.correct_count = correct;
    result.total_questions = total;
    result.score = if total == 0 {
        0.0
    } else {
        f64::from(correct) * 100.0 / f64::from(total)
    };
}
