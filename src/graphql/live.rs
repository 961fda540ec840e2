//! Live quiz generation: jobs started by a mutation and watched through a subscription, and the
//! caller's quiz activity as it happens. All behind the login guard and scoped to the caller.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use super::{
    context::ContextExt,
    guard::LoggedIn,
    quiz::{GenerateQuizInput, Quiz},
};
use crate::domain::{GenerationJobRecord, QuizEventRecord};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::JobStatus")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::QuizEventKind")]
pub enum QuizEventKind {
    QuizCreated,
    QuizDeleted,
    ResultSubmitted,
}

/// Why a job failed: an error code from the documented list, and a message for people.
#[derive(SimpleObject)]
pub struct JobError {
    code: String,
    message: String,
}

/// A quiz being generated in the background.
pub struct QuizGenerationJob(GenerationJobRecord);

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[Object]
impl QuizGenerationJob {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn status(&self) -> JobStatus {
        self.0.status.into()
    }

    /// 0 to 1; never goes back. 1 once the quiz is stored.
    async fn progress(&self) -> f64 {
        self.0.progress
    }

    /// Questions generated so far.
    async fn questions_ready(&self) -> i32 {
        int(self.0.questions_ready)
    }

    async fn question_count(&self) -> i32 {
        int(self.0.input.question_count)
    }

    /// The quiz, once the job succeeded (`null` also when it was deleted since).
    async fn quiz(&self, ctx: &Context<'_>) -> Result<Option<Quiz>> {
        let Some(quiz_id) = &self.0.quiz_id else {
            return Ok(None);
        };
        let owner = &ctx.claims()?.sub;
        Ok(ctx
            .quiz_service()
            .quiz(owner, quiz_id.as_str())
            .await?
            .map(Into::into))
    }

    /// Why the job failed, when it did.
    async fn error(&self) -> Option<JobError> {
        self.0.error.as_ref().map(|e| JobError {
            code: e.code.clone(),
            message: e.message.clone(),
        })
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Something that happened to one of your quizzes, on any device.
#[derive(SimpleObject)]
pub struct QuizEvent {
    kind: QuizEventKind,
    quiz_id: ID,
    /// The submitted result, for `RESULT_SUBMITTED`.
    result_id: Option<ID>,
    at: DateTime<Utc>,
}

impl From<QuizEventRecord> for QuizEvent {
    fn from(e: QuizEventRecord) -> Self {
        QuizEvent {
            kind: e.kind.into(),
            quiz_id: ID(e.quiz_id.to_string()),
            result_id: e.result_id.map(|r| ID(r.to_string())),
            at: e.at,
        }
    }
}

#[derive(Default)]
pub struct LiveQuery;

#[Object]
impl LiveQuery {
    /// One of your generation jobs; `null` if it does not exist or is not yours.
    #[graphql(guard = "LoggedIn")]
    async fn quiz_generation_job(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<Option<QuizGenerationJob>> {
        let owner = &ctx.claims()?.sub;
        Ok(ctx
            .quiz_service()
            .generation_job(owner, &id)
            .await?
            .map(QuizGenerationJob))
    }
}

#[derive(Default)]
pub struct LiveMutation;

#[Object]
impl LiveMutation {
    /// Starts generating a quiz in the background and returns the queued job at once; watch it
    /// with the `quizGeneration` subscription. At most `GENERATION_MAX_ACTIVE_PER_USER` jobs
    /// may be queued or running per user (`RATE_LIMITED` beyond).
    #[graphql(guard = "LoggedIn")]
    async fn start_quiz_generation(
        &self,
        ctx: &Context<'_>,
        input: GenerateQuizInput,
    ) -> Result<QuizGenerationJob> {
        let owner = &ctx.claims()?.sub;
        let job = ctx
            .quiz_service()
            .start_generation(
                owner,
                input.resolve(ctx).await?,
                ctx.request_auth().client(),
            )
            .await?;
        Ok(QuizGenerationJob(job))
    }

    /// Cancels one of your jobs (and its LLM request); an ended job is returned unchanged.
    #[graphql(guard = "LoggedIn")]
    async fn cancel_quiz_generation(&self, ctx: &Context<'_>, id: ID) -> Result<QuizGenerationJob> {
        let owner = &ctx.claims()?.sub;
        let job = ctx.quiz_service().cancel_generation(owner, &id).await?;
        Ok(QuizGenerationJob(job))
    }
}

/// The subscription root fields, as the `graphql_subscriptions_active` gauge labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "camelCase")]
pub enum LiveField {
    QuizGeneration,
    QuizEvents,
}

/// How many subscriptions of this process listen for changes, per root field: one counts from
/// the moment it listens until its stream is dropped. Read for the
/// `graphql_subscriptions_active` gauge at each scrape, so whoever sees the count rise knows a
/// subscription started after it will hear every change made from then on.
#[derive(Clone, Default)]
pub struct ActiveSubscriptions(Arc<[AtomicUsize; LIVE_FIELDS]>);

const LIVE_FIELDS: usize = <LiveField as strum::VariantArray>::VARIANTS.len();

impl ActiveSubscriptions {
    /// The count for each root field.
    pub fn counts(&self) -> impl Iterator<Item = (LiveField, usize)> + '_ {
        <LiveField as strum::VariantArray>::VARIANTS
            .iter()
            .map(|&field| (field, self.0[field as usize].load(Ordering::Acquire)))
    }

    /// Counts one subscription of `field` until the returned guard is dropped.
    fn listening(&self, field: LiveField) -> Listening {
        // Released after the stream listens: a reader who sees it can publish and be heard.
        self.0[field as usize].fetch_add(1, Ordering::Release);
        Listening {
            counts: self.clone(),
            field,
        }
    }
}

/// One subscription counted in [`ActiveSubscriptions`]; it travels with the subscription's
/// stream.
struct Listening {
    counts: ActiveSubscriptions,
    field: LiveField,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.counts.0[self.field as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts `stream` under `field` for as long as it lives; call it once the stream listens.
fn counted<S: Stream>(
    ctx: &Context<'_>,
    field: LiveField,
    stream: S,
) -> impl Stream<Item = S::Item> + use<S> {
    let listening = ctx.data_unchecked::<ActiveSubscriptions>().listening(field);
    stream.inspect(move |_| {
        let _counted = &listening;
    })
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// The job as it is now, then every change; completes after it SUCCEEDED, FAILED or was
    /// CANCELLED. `NOT_FOUND` for a job that does not exist or is not yours.
    #[graphql(guard = "LoggedIn")]
    async fn quiz_generation(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
    ) -> Result<impl Stream<Item = QuizGenerationJob> + use<>> {
        let owner = &ctx.claims()?.sub;
        let changes = ctx.quiz_service().watch_generation(owner, &job_id).await?;
        Ok(counted(ctx, LiveField::QuizGeneration, changes).map(QuizGenerationJob))
    }

    /// Your quiz activity as it happens, from any device or server process: quizzes created
    /// and deleted, results submitted.
    #[graphql(guard = "LoggedIn")]
    async fn quiz_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = QuizEvent> + use<>> {
        let owner = &ctx.claims()?.sub;
        let events = ctx.quiz_service().quiz_events(owner);
        Ok(counted(ctx, LiveField::QuizEvents, events).map(QuizEvent::from))
    }
}
