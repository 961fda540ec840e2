//! Quizzes: generation (by an LLM, or offline from the user's study text), grading, history and
//! feedback. Everything is scoped to its owner; another user's quiz reads as absent.

pub mod cache;
pub mod feedback;
pub mod grading;
pub mod jobs;
pub mod live;
pub mod llm;
pub mod offline;
pub mod page;
pub mod review;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    cpu,
    domain::ClientInfo,
    domain::{
        AnswerType, ChoiceRecord, Difficulty, FeedbackRecord, JobId, QuestionFeedbackRecord,
        QuestionRecord, QuizEventKind, QuizId, QuizRecord, QuizResultRecord, QuizSource, ResultId,
        UserId,
    },
    domain::{AppError, AppResult, SharedClock},
    ratelimit::{Bucket, RequestBudget, Throttle},
    store::Store,
};
use cache::QuizCache;
use grading::Answer;
use jobs::GenerationSettings;
use live::LiveFeed;
use llm::{
    LlmAnswerType, LlmClient, LlmError, LlmFeedback, LlmQuiz, Message, QuestionCounter, StudyText,
};
use page::{Page, PageRequest};

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
}

/// The same, validated.
#[derive(Debug, Clone)]
struct QuizSpec {
    topic: String,
    source_text: Option<String>,
    question_count: usize,
    choice_count: usize,
    difficulty: Difficulty,
    language: String,
}

impl GenerateInput {
    fn validate(self) -> AppResult<QuizSpec> {
        let topic = self.topic.trim().to_owned();
        let topic_len = topic.chars().count();
        if topic_len == 0 || topic_len > TOPIC_MAX_CHARS {
            return Err(AppError::bad_input(
                "topic",
                format!("The topic must be 1 to {TOPIC_MAX_CHARS} characters long."),
            ));
        }
        let source_text = self
            .source_text
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        if let Some(text) = &source_text
            && text.chars().count() > SOURCE_TEXT_MAX_CHARS
        {
            return Err(AppError::bad_input(
                "sourceText",
                format!("The study text may be at most {SOURCE_TEXT_MAX_CHARS} characters long."),
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
            return Err(AppError::bad_input(
                "language",
                "language must be a language code such as en, ko or pt-BR.",
            ));
        }
        Ok(QuizSpec {
            topic,
            source_text,
            question_count: self.question_count as usize,
            choice_count: self.choice_count as usize,
            difficulty: self.difficulty,
            language,
        })
    }
}

fn within(field: &'static str, value: i32, range: &std::ops::RangeInclusive<i32>) -> AppResult<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(AppError::bad_input(
            field,
            format!(
                "{field} must be between {} and {}.",
                range.start(),
                range.end()
            ),
        ))
    }
}

/// A generated quiz before it is owned and stored.
struct Draft {
    title: String,
    description: String,
    source: QuizSource,
    questions: Vec<QuestionRecord>,
}

fn number(i: usize) -> u32 {
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

pub struct QuizService {
    store: Arc<dyn Store>,
    llm: Option<LlmClient>,
    throttle: Arc<Throttle>,
    clock: SharedClock,
    feed: Arc<LiveFeed>,
    /// Quizzes already read, for the pages that list them again.
    cache: QuizCache,
    generation: GenerationSettings,
    /// Names this process's workers in the leases they hold.
    worker_id: String,
    wake_workers: Notify,
    /// The jobs this process is working on, to stop one the moment it is cancelled.
    running_jobs: Mutex<HashMap<JobId, CancellationToken>>,
}

impl QuizService {
    pub fn new(
        store: Arc<dyn Store>,
        llm: Option<LlmClient>,
        throttle: Arc<Throttle>,
        generation: &GenerationSettings,
        clock: SharedClock,
    ) -> Self {
        QuizService {
            feed: Arc::new(LiveFeed::new(
                store.clone(),
                clock.clone(),
                generation.live_poll_interval,
            )),
            store,
            llm,
            throttle,
            clock,
            cache: QuizCache::new(generation.quiz_cache_mib * 1024 * 1024),
            generation: generation.clone(),
            worker_id: uuid::Uuid::new_v4().to_string(),
            wake_workers: Notify::new(),
            running_jobs: Mutex::new(HashMap::new()),
        }
    }

    /// The live feed, for reporting how many listen.
    pub fn feed(&self) -> &LiveFeed {
        &self.feed
    }

    pub async fn generate(
        &self,
        owner: &UserId,
        input: GenerateInput,
        budget: &RequestBudget,
        client: &ClientInfo,
    ) -> AppResult<QuizRecord> {
        if !budget.take_generation() {
            return Err(AppError::bad_input(
                "generateQuiz",
                "Only one quiz can be generated per request; send each generateQuiz in a \
                 request of its own.",
            ));
        }
        let spec = input.validate()?;
        self.throttle
            .check(Bucket::GenerateUser, owner.as_str(), Some(owner), client)
            .await?;
        let draft = match &self.llm {
            Some(llm) => generate_with_llm(llm, &spec, None).await?,
            // Up to 100k characters of study text: CPU work, kept off the async workers.
            None => {
                let spec = spec.clone();
                cpu::run(move || generate_offline(&spec)).await??
            }
        };
        let quiz = QuizRecord {
            id: QuizId::new_random(),
            owner: owner.clone(),
            title: draft.title,
            description: draft.description,
            topic: spec.topic,
            difficulty: spec.difficulty,
            source: draft.source,
            language: spec.language,
            questions: draft.questions,
            created_at: self.clock.now(),
        };
        self.store.insert_quiz(&quiz).await?;
        tracing::info!(user_id = %owner, quiz_id = %quiz.id, source = ?quiz.source, "quiz generated");
        self.record_event(owner, QuizEventKind::QuizCreated, &quiz.id, None)
            .await;
        Ok(quiz)
    }

    pub async fn quiz(&self, owner: &UserId, id: &str) -> AppResult<Option<QuizRecord>> {
        let Some(id) = QuizId::parse(id) else {
            return Ok(None);
        };
        Ok(self.store.find_quiz(owner, &id).await?)
    }

    pub async fn quizzes(
        &self,
        owner: &UserId,
        page: PageRequest,
    ) -> AppResult<Page<Arc<QuizRecord>>> {
        let fetched = self
            .store
            .list_quiz_keys(owner, page.after.as_ref(), page.limit + 1)
            .await?;
        let keys = Page::from_fetched(fetched.keys, &page, fetched.total);
        let quizzes = self
            .cache
            .quizzes_at(&*self.store, owner, &keys.items)
            .await?;
        Ok(keys.with_items(quizzes))
    }

    /// Results of the quiz are kept: they are snapshots.
    pub async fn delete(&self, owner: &UserId, id: &str) -> AppResult<()> {
        let id = QuizId::parse(id).ok_or(AppError::NotFound)?;
        if self.store.delete_quiz(owner, &id).await? {
            tracing::info!(user_id = %owner, quiz_id = %id, "quiz deleted");
            self.record_event(owner, QuizEventKind::QuizDeleted, &id, None)
                .await;
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn submit(
        &self,
        owner: &UserId,
        quiz_id: &str,
        answers: &[Answer],
        client: &ClientInfo,
    ) -> AppResult<QuizResultRecord> {
        self.throttle
            .check(Bucket::SubmitUser, owner.as_str(), Some(owner), client)
            .await?;
        let quiz = self.quiz(owner, quiz_id).await?.ok_or(AppError::NotFound)?;
        let result = grading::grade(&quiz, owner, answers, self.clock.now())?;
        self.store.insert_result(&result).await?;
        self.schedule_answers(&quiz, &result).await;
        self.record_event(
            owner,
            QuizEventKind::ResultSubmitted,
            &quiz.id,
            Some(&result.id),
        )
        .await;
        Ok(result)
    }

    pub async fn result(&self, owner: &UserId, id: &str) -> AppResult<Option<QuizResultRecord>> {
        let Some(id) = ResultId::parse(id) else {
            return Ok(None);
        };
        Ok(self.store.find_result(owner, &id).await?)
    }

    pub async fn results(
        &self,
        owner: &UserId,
        quiz_id: Option<&str>,
        page: PageRequest,
    ) -> AppResult<Page<QuizResultRecord>> {
        let quiz = match quiz_id {
            Some(raw) => Some(
                QuizId::parse(raw)
                    .ok_or_else(|| AppError::bad_input("quizId", "quizId is not a quiz id."))?,
            ),
            None => None,
        };
        let (fetched, total) = tokio::try_join!(
            self.store
                .list_results(owner, quiz.as_ref(), page.after.as_ref(), page.limit + 1),
            self.store.count_results(owner, quiz.as_ref()),
        )?;
        Ok(Page::from_fetched(fetched, &page, total))
    }

    /// LLM feedback is asked for once and cached on the result; without an LLM (or when it
    /// fails, or this request already made its one LLM feedback call) feedback is built from the
    /// result itself and not cached, so a later request can still ask the LLM.
    pub async fn feedback(
        &self,
        result: &QuizResultRecord,
        budget: &RequestBudget,
    ) -> AppResult<FeedbackRecord> {
        if let Some(cached) = &result.feedback {
            return Ok(cached.clone());
        }
        let Some(llm) = &self.llm else {
            return Ok(feedback::offline(result));
        };
        if !budget.take_llm_feedback() {
            return Ok(feedback::offline(result));
        }
        let wrong: HashSet<u32> = result
            .answers
            .iter()
            .filter(|a| !a.is_correct)
            .map(|a| a.question_number)
            .collect();
        let reply = llm
            .ask::<LlmFeedback, _>("quiz_feedback", feedback::llm_messages(result), |f| {
                check_feedback(f, &wrong)
            })
            .await;
        match reply {
            Ok(reply) => {
                let generated = FeedbackRecord {
                    summary: reply.summary.trim().to_owned(),
                    items: reply
                        .items
                        .into_iter()
                        .map(|i| QuestionFeedbackRecord {
                            question_number: i.question_number as u32,
                            feedback: i.feedback.trim().to_owned(),
                        })
                        .collect(),
                };
                if self
                    .store
                    .set_feedback(&result.owner, &result.id, &generated)
                    .await?
                {
                    return Ok(generated);
                }
                // Another request cached its feedback first; everyone sees that one.
                Ok(self
                    .store
                    .find_result(&result.owner, &result.id)
                    .await?
                    .and_then(|r| r.feedback)
                    .unwrap_or(generated))
            }
            Err(err) => {
                tracing::warn!(result_id = %result.id, error = %err, "LLM feedback failed; using offline feedback");
                Ok(feedback::offline(result))
            }
        }
    }
}

fn check_feedback(f: &LlmFeedback, wrong: &HashSet<u32>) -> Result<(), String> {
    if f.summary.trim().is_empty() {
        return Err("the summary is empty".into());
    }
    let mut seen = HashSet::new();
    for item in &f.items {
        let n = u32::try_from(item.question_number).unwrap_or(0);
        if !wrong.contains(&n) {
            return Err(format!(
                "item for question {} but only wrongly answered questions get items",
                item.question_number
            ));
        }
        if !seen.insert(n) || item.feedback.trim().is_empty() {
            return Err(format!("question {n} has a duplicate or empty item"));
        }
    }
    Ok(())
}

/// The study text the offline generator needs: without an LLM it is required.
fn offline_text(spec: &QuizSpec) -> AppResult<&str> {
    spec.source_text.as_deref().ok_or_else(|| {
        AppError::bad_input(
            "sourceText",
            "No LLM is configured on this server, so quizzes are built from study text: give \
             sourceText (or configure LLM_BASE_URL to generate from a topic alone).",
        )
    })
}

fn generate_offline(spec: &QuizSpec) -> AppResult<Draft> {
    generate_offline_reporting(spec, &mut |_| {})
}

/// The offline generator; `on_question` hears how many questions are built so far.
fn generate_offline_reporting(
    spec: &QuizSpec,
    on_question: &mut dyn FnMut(usize),
) -> AppResult<Draft> {
    let text = offline_text(spec)?;
    let request = offline::OfflineRequest {
        topic: &spec.topic,
        source_text: text,
        question_count: spec.question_count,
        choice_count: spec.choice_count,
        difficulty: spec.difficulty,
        seed: offline::content_seed(&spec.topic, text, spec.question_count, spec.choice_count),
    };
    let questions = offline::generate_reporting(&request, on_question).map_err(|err| match err {
        offline::OfflineError::NotEnoughMaterial { possible: 0, .. } => AppError::bad_input(
            "sourceText",
            format!(
                "The study text is too short to build questions with {} choices; add more text \
                 or ask for fewer choices.",
                spec.choice_count
            ),
        ),
        offline::OfflineError::NotEnoughMaterial { possible, .. } => AppError::bad_input(
            "questionCount",
            format!(
                "The study text can make at most {possible} distinct questions with {} choices; \
                 ask for {possible} or fewer, or add more text.",
                spec.choice_count
            ),
        ),
    })?;
    Ok(Draft {
        title: spec.topic.clone(),
        description: format!(
            "{} fill-in-the-blank questions built from your study text.",
            questions.len()
        ),
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
            })
            .collect(),
    })
}

fn quiz_messages(spec: &QuizSpec) -> Vec<Message> {
    let difficulty = match spec.difficulty {
        Difficulty::Easy => "easy",
        Difficulty::Medium => "medium",
        Difficulty::Hard => "hard",
    };
    let mut prompt = format!(
        "Write a quiz.\n\
         Topic: {topic}\n\
         Difficulty: {difficulty}\n\
         Language of everything you write: {language}\n\
         Number of questions: exactly {questions}\n\
         Rules:\n\
         - answer_type \"multiple_choice\": exactly {choices} choices; \"true_false\": exactly 2 \
           choices (true and false, in the quiz language).\n\
         - Exactly one choice per question has is_correct = true.\n\
         - Choices are non-empty and all different; questions are all different.\n\
         - explanation says why the correct choice is right.\n",
        topic = spec.topic,
        language = spec.language,
        questions = spec.question_count,
        choices = spec.choice_count,
    );
    if let Some(text) = &spec.source_text {
        prompt.push_str(
            "- Base every question on the study text below; the correct choice of every \
             multiple_choice question must appear in it word for word.\n\nStudy text:\n<<<\n",
        );
        prompt.push_str(text);
        prompt.push_str("\n>>>\n");
    }
    vec![
        Message::system(
            "You write accurate quizzes for learners. Reply only with JSON that follows the \
             schema.",
        ),
        Message::user(prompt),
    ]
}

/// What the schema cannot say: the counts, one correct choice, no blanks or duplicates, and,
/// given study text, a multiple-choice answer stated in it (a true/false answer cannot be).
fn check_quiz(quiz: &LlmQuiz, spec: &QuizSpec, study: Option<&StudyText>) -> Result<(), String> {
    if quiz.questions.len() != spec.question_count {
        return Err(format!(
            "expected exactly {} questions, got {}",
            spec.question_count,
            quiz.questions.len()
        ));
    }
    let mut contents = HashSet::new();
    for (i, q) in quiz.questions.iter().enumerate() {
        let n = i + 1;
        if q.content.trim().is_empty() {
            return Err(format!("question {n} is empty"));
        }
        if !contents.insert(q.content.trim().to_lowercase()) {
            return Err(format!("question {n} repeats an earlier question"));
        }
        let expected = match q.answer_type {
            LlmAnswerType::MultipleChoice => spec.choice_count,
            LlmAnswerType::TrueFalse => 2,
        };
        if q.choices.len() != expected {
            return Err(format!(
                "question {n} has {} choices; it needs exactly {expected}",
                q.choices.len()
            ));
        }
        let correct = q.choices.iter().filter(|c| c.is_correct).count();
        if correct != 1 {
            return Err(format!(
                "question {n} has {correct} correct choices; it needs exactly one"
            ));
        }
        let mut seen = HashSet::new();
        for c in &q.choices {
            let key = c.content.trim().to_lowercase();
            if key.is_empty() {
                return Err(format!("question {n} has an empty choice"));
            }
            if !seen.insert(key) {
                return Err(format!("question {n} has duplicate choices"));
            }
        }
        if let (Some(study), LlmAnswerType::MultipleChoice) = (study, q.answer_type)
            && let Some(answer) = q.choices.iter().find(|c| c.is_correct)
            && !study.states(&answer.content)
        {
            return Err(format!(
                "the correct answer of question {n}, {:?}, is not stated in the study text; \
                 each correct answer must appear in it word for word",
                answer.content
            ));
        }
    }
    Ok(())
}

impl QuizService {
    /// A job's quiz: streamed from the LLM, or built offline, with `ready` told how many
    /// questions are complete as they complete.
    async fn draft_for_job(
        &self,
        spec: &QuizSpec,
        ready: watch::Sender<usize>,
    ) -> AppResult<Draft> {
        match &self.llm {
            Some(llm) => {
                let mut counter = QuestionCounter::default();
                let mut on_partial = |text: &str| {
                    let n = counter.count(text);
                    ready.send_if_modified(|r| {
                        let grew = n > *r;
                        *r = (*r).max(n);
                        grew
                    });
                };
                generate_with_llm(llm, spec, Some(&mut on_partial)).await
            }
            None => {
                let spec = spec.clone();
                cpu::run(move || {
                    generate_offline_reporting(&spec, &mut |n| {
                        ready.send_replace(n);
                    })
                })
                .await?
            }
        }
    }
}

async fn generate_with_llm(
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
            })
            .collect(),
    })
}
