//! The quiz service: generation, history, grading and feedback, each scoped to its owner.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    cpu,
    domain::{
        AppError, AppResult, FeedbackRecord, JobId, QuestionFeedbackRecord, QuizEventKind, QuizId,
        QuizRecord, QuizResultRecord, ResultId, SharedClock, UserId,
    },
    domain::{ClientInfo, MessageKey},
    llm::LlmClient,
    ratelimit::{Bucket, RequestBudget, Throttle},
    store::Store,
};

use super::{
    GenerateInput, QuizSpec,
    cache::QuizCache,
    checks::check_feedback,
    draft::{Draft, generate_offline, generate_offline_reporting, generate_with_llm, offline_text},
    feedback,
    grading::{self, Answer},
    jobs::GenerationSettings,
    live::LiveFeed,
    marking::{self, CloseAnswer, Judgements},
    page::{Page, PageRequest},
    reply::{LlmFeedback, QuestionCounter},
};

pub struct QuizService {
    pub(super) store: Arc<dyn Store>,
    pub(super) llm: Option<LlmClient>,
    pub(super) throttle: Arc<Throttle>,
    pub(super) clock: SharedClock,
    pub(super) feed: Arc<LiveFeed>,
    /// Quizzes already read, for the pages that list them again.
    pub(super) cache: QuizCache,
    pub(super) generation: GenerationSettings,
    /// Names this process's workers in the leases they hold.
    pub(super) worker_id: String,
    pub(super) wake_workers: Notify,
    /// The jobs this process is working on, to stop one the moment it is cancelled.
    pub(super) running_jobs: Mutex<HashMap<JobId, CancellationToken>>,
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
                MessageKey::OneGenerationPerRequest,
            ));
        }
        let spec = input.validate()?;
        self.throttle
            .check(Bucket::GenerateUser, owner.as_str(), Some(owner), client)
            .await?;
        let draft = match &self.llm {
            Some(llm) => match generate_with_llm(llm, &spec, None).await {
                Err(failed) => self.fall_back(&spec, failed, None).await?,
                drafted => drafted?,
            },
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
        budget: &RequestBudget,
        client: &ClientInfo,
    ) -> AppResult<QuizResultRecord> {
        self.throttle
            .check(Bucket::SubmitUser, owner.as_str(), Some(owner), client)
            .await?;
        let quiz = self.quiz(owner, quiz_id).await?.ok_or(AppError::NotFound)?;
        let graded = grading::grade(&quiz, owner, answers, self.clock.now())?;
        let mut result = graded.result;
        self.judge_close_answers(&quiz, &mut result, &graded.close, budget)
            .await;
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

    /// Lets the model judge typed answers that were close to an accepted one (once per
    /// request), and regrades `result` by its verdicts.
    async fn judge_close_answers(
        &self,
        quiz: &QuizRecord,
        result: &mut QuizResultRecord,
        close: &[u32],
        budget: &RequestBudget,
    ) {
        let asked: Vec<CloseAnswer<'_>> = close
            .iter()
            .filter_map(|n| {
                let question = quiz.questions.iter().find(|q| q.number == *n)?;
                let answer = result.answers.iter().find(|a| a.question_number == *n)?;
                Some(CloseAnswer {
                    question_number: *n,
                    question: &question.content,
                    accepted: &question.accepted_answers,
                    typed: answer.selected_content.as_deref()?,
                })
            })
            .collect();
        let judgements = self.judge_close(&quiz.language, &asked, budget).await;
        if judgements.is_empty() {
            return;
        }
        for answer in &mut result.answers {
            if let Some((correct, reason)) = judgements.get(&answer.question_number) {
                answer.is_correct = *correct;
                answer.grading_note = Some(reason.clone());
            }
        }
        grading::recount(result);
    }

    /// The model's verdicts on typed answers close to an accepted one, asked in one call at
    /// most per request; none without an LLM or anything to ask.
    pub(super) async fn judge_close(
        &self,
        language: &str,
        asked: &[CloseAnswer<'_>],
        budget: &RequestBudget,
    ) -> Judgements {
        match &self.llm {
            Some(llm) if !asked.is_empty() && budget.take_llm_grading() => {
                marking::judge(llm, language, asked).await
            }
            _ => Judgements::new(),
        }
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

impl QuizService {
    /// A job's quiz: streamed from the LLM, or built offline, with `ready` told how many
    /// questions are complete as they complete.
    pub(super) async fn draft_for_job(
        &self,
        spec: &QuizSpec,
        ready: watch::Sender<usize>,
    ) -> AppResult<Draft> {
        match &self.llm {
            Some(llm) => {
                let mut counter = QuestionCounter::default();
                let mut on_partial = |text: &str| {
                    // A model may write more questions than asked; the check refuses that
                    // reply later, and progress must not promise more than the quiz will hold.
                    let n = counter.count(text).min(spec.question_count);
                    ready.send_if_modified(|r| {
                        let grew = n > *r;
                        *r = (*r).max(n);
                        grew
                    });
                };
                match generate_with_llm(llm, spec, Some(&mut on_partial)).await {
                    Err(failed) => self.fall_back(spec, failed, Some(ready)).await,
                    drafted => drafted,
                }
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

    /// After the LLM gave nothing usable (`failed`): with `LLM_OFFLINE_FALLBACK` on and study
    /// text the offline generator can use, its quiz from that text; otherwise `failed`. A
    /// job's progress (`ready`) never goes back below what the model had streamed.
    async fn fall_back(
        &self,
        spec: &QuizSpec,
        failed: AppError,
        ready: Option<watch::Sender<usize>>,
    ) -> AppResult<Draft> {
        if !matches!(failed, AppError::LlmUnavailable)
            || !self.generation.llm_offline_fallback
            || offline_text(spec).is_err()
        {
            return Err(failed);
        }
        let offline = {
            let spec = spec.clone();
            cpu::run(move || {
                generate_offline_reporting(&spec, &mut |n| {
                    if let Some(ready) = &ready {
                        ready.send_if_modified(|r| std::mem::replace(r, (*r).max(n)) < n);
                    }
                })
            })
            .await?
        };
        match offline {
            Ok(draft) => {
                tracing::warn!(
                    "the LLM gave no usable quiz; built it offline from the study text \
                     (LLM_OFFLINE_FALLBACK)"
                );
                metrics::counter!("quiz_offline_fallbacks_total").increment(1);
                Ok(draft)
            }
            // The text suits no offline quiz of this shape: the model's failure is the answer.
            Err(_) => Err(failed),
        }
    }
}
