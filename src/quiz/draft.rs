//! A quiz before it is owned and stored, as the LLM or the offline generator writes it.

use crate::{
    domain::{
        AnswerType, AppError, AppResult, ChoiceRecord, Message, MessageKey, QuestionRecord,
        QuizSource,
    },
    llm::{LlmClient, LlmError},
};

use super::{
    QuizSpec,
    checks::{StudyText, check_quiz},
    offline,
    prompt::quiz_messages,
    reply::{LlmAnswerType, LlmQuiz},
};

/// A generated quiz before it is owned and stored.
pub(super) struct Draft {
    pub(super) title: String,
    pub(super) description: String,
    pub(super) source: QuizSource,
    pub(super) questions: Vec<QuestionRecord>,
}

pub(super) fn number(i: usize) -> u32 {
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}

/// Choices in the order given, numbered from 1.
fn numbered_choices(choices: impl Iterator<Item = (String, bool)>) -> Vec<ChoiceRecord> {
    choices
        .enumerate()
        .map(|(j, (content, correct))| ChoiceRecord {
            number: number(j),
            content,
            correct,
        })
        .collect()
}

impl Draft {
    /// The draft with every question of the kind the spec asks for: SHORT_ANSWER questions
    /// take their correct choice as the accepted answer and lose their choices (the generators
    /// write multiple-choice questions for them).
    fn shaped(mut self, spec: &QuizSpec) -> Draft {
        if spec.answer_type == Some(AnswerType::ShortAnswer) {
            for q in &mut self.questions {
                q.accepted_answers = q
                    .correct_choice()
                    .map(|c| c.content.clone())
                    .into_iter()
                    .collect();
                q.choices.clear();
                q.answer_type = AnswerType::ShortAnswer;
            }
        }
        self
    }
}

/// The study text the offline generator needs (without an LLM it is required), after checking
/// that it can write the kind of question asked for.
pub(super) fn offline_text(spec: &QuizSpec) -> AppResult<&str> {
    if spec.answer_type == Some(AnswerType::TrueFalse) {
        return Err(AppError::bad_input(
            "answerType",
            Message::new(MessageKey::OfflineAnswerType),
        ));
    }
    spec.source_text
        .as_deref()
        .ok_or_else(|| AppError::bad_input("sourceText", MessageKey::StudyTextNeeded))
}

pub(super) fn generate_offline(spec: &QuizSpec) -> AppResult<Draft> {
    generate_offline_reporting(spec, &mut |_| {})
}

/// The offline generator; `on_question` hears how many questions are built so far.
pub(super) fn generate_offline_reporting(
    spec: &QuizSpec,
    on_question: &mut dyn FnMut(usize),
) -> AppResult<Draft> {
    let text = offline_text(spec)?;
    let request = offline::OfflineRequest {
        topic: &spec.topic,
        source_text: text,
        question_count: spec.question_count,
        // A typed answer needs no distractors: ask for as few as a question can have.
        choice_count: if spec.answer_type == Some(AnswerType::ShortAnswer) {
            *super::CHOICE_COUNT.start() as usize
        } else {
            spec.choice_count
        },
        difficulty: spec.difficulty,
        seed: offline::content_seed(&spec.topic, text, spec.question_count, spec.choice_count),
        locale: crate::domain::Locale::from_tag(&spec.language).unwrap_or_default(),
    };
    let questions =
        offline::generate_reporting(&request, on_question).map_err(|err| match err {
            offline::OfflineError::NotEnoughMaterial { possible: 0, .. } => AppError::bad_input(
                "sourceText",
                Message::new(MessageKey::StudyTextTooShort).with("choices", request.choice_count),
            ),
            offline::OfflineError::NotEnoughMaterial { possible, .. } => AppError::bad_input(
                "questionCount",
                Message::new(MessageKey::StudyTextMakesAtMost)
                    .with("possible", possible)
                    .with("choices", request.choice_count),
            ),
        })?;
    let passage = |bytes: std::ops::Range<usize>| {
        let start = text[..bytes.start].chars().count();
        let chars = start..start + text[bytes].chars().count();
        spec.origin.passage(text, chars)
    };
    Ok(Draft {
        title: spec.topic.clone(),
        description: offline::description(request.locale, questions.len()),
        source: QuizSource::Offline,
        questions: questions
            .into_iter()
            .enumerate()
            .map(|(i, q)| QuestionRecord {
                number: number(i),
                content: q.content,
                answer_type: AnswerType::MultipleChoice,
                choices: numbered_choices(q.choices.into_iter().map(|c| (c.content, c.correct))),
                explanation: q.explanation,
                accepted_answers: Vec::new(),
                source: Some(passage(q.passage)),
            })
            .collect(),
    }
    .shaped(spec))
}

pub(super) async fn generate_with_llm(
    llm: &LlmClient,
    spec: &QuizSpec,
    on_partial: Option<&mut (dyn FnMut(&str) + Send)>,
) -> AppResult<Draft> {
    let study = spec.source_text.as_deref().map(StudyText::new);
    let check = |q: &LlmQuiz| check_quiz(q, spec, study.as_ref());
    let reply = match on_partial {
        Some(on_partial) => {
            llm.ask_streamed::<LlmQuiz, _>("quiz", quiz_messages(spec), check, on_partial)
                .await
        }
        None => {
            llm.ask::<LlmQuiz, _>("quiz", quiz_messages(spec), check)
                .await
        }
    };
    let quiz = reply.map_err(|err: LlmError| {
        tracing::warn!(error = %err, "quiz generation by the LLM failed");
        AppError::LlmUnavailable
    })?;
    // The check found every quote in the study text.
    let passage = |quote: &str| {
        let text = spec.source_text.as_deref()?;
        let chars = study.as_ref()?.find(quote)?;
        Some(spec.origin.passage(text, chars))
    };
    let title = Some(quiz.title.trim())
        .filter(|t| !t.is_empty())
        .unwrap_or(&spec.topic)
        .to_owned();
    Ok(Draft {
        title,
        description: quiz.description.trim().to_owned(),
        source: QuizSource::Llm,
        questions: quiz
            .questions
            .into_iter()
            .enumerate()
            .map(|(i, q)| QuestionRecord {
                number: number(i),
                content: q.content.trim().to_owned(),
                answer_type: match q.answer_type {
                    LlmAnswerType::MultipleChoice => AnswerType::MultipleChoice,
                    LlmAnswerType::TrueFalse => AnswerType::TrueFalse,
                },
                choices: numbered_choices(
                    q.choices
                        .into_iter()
                        .map(|c| (c.content.trim().to_owned(), c.is_correct)),
                ),
                explanation: Some(q.explanation.trim().to_owned()).filter(|e| !e.is_empty()),
                accepted_answers: Vec::new(),
                source: passage(&q.quote),
            })
            .collect(),
    }
    .shaped(spec))
}
