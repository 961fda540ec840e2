//! The learning loop: the review queue, answering a card, and the learner's statistics. Behind
//! the login guard (guests too) and scoped to the caller: another user's card is NOT_FOUND.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    context::ContextExt,
    guard::LoggedIn,
    quiz::{Question, SourcePassage, int},
};
use crate::{
    domain::ReviewCardRecord,
    quiz::review::{self, ReviewAnswer},
};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::domain::Rating")]
pub enum ReviewRating {
    Again,
    Hard,
    Good,
    Easy,
}

/// An answer to a review card.
#[derive(InputObject)]
pub struct ReviewAnswerInput {
    choice_number: Option<i32>,
    text: Option<String>,
    /// How hard a right answer felt. Without it a right answer counts as GOOD, or as EASY or
    /// HARD when `timeTakenMs` is half or twice the card's usual time. A wrong answer is always
    /// AGAIN.
    rating: Option<ReviewRating>,
    /// How long the learner took to answer, in milliseconds (0 to 3,600,000).
    time_taken_ms: Option<i32>,
}

/// A question of yours on its review schedule; its answer stays hidden, as in a quiz.
pub struct ReviewCard(ReviewCardRecord);

#[Object]
impl ReviewCard {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn question(&self) -> Question<'_> {
        Question(&self.0.question)
    }

    async fn quiz_title(&self) -> &str {
        &self.0.quiz_title
    }

    /// When the card is next to be reviewed.
    async fn due(&self) -> DateTime<Utc> {
        self.0.due
    }

    /// Times the card was answered wrongly after it had been learned.
    async fn lapses(&self) -> i32 {
        int(self.0.lapses)
    }

    async fn reps(&self) -> i32 {
        int(self.0.reps)
    }
}

#[derive(SimpleObject)]
pub struct ReviewOutcome {
    correct: bool,
    correct_answer: String,
    explanation: Option<String>,
    /// The passage of the study text the question was built from; null without one.
    source: Option<SourcePassage>,
    /// Why the model took a typed answer close to an accepted one as right or wrong.
    grading_note: Option<String>,
    next_due: DateTime<Utc>,
    card: ReviewCard,
}

/// Times are UTC days.
#[derive(SimpleObject)]
pub struct LearningStats {
    due_now: i32,
    due_today: i32,
    /// Reviews since the start of the day, quiz answers included.
    reviewed_today: i32,
    /// Share of reviews of already-seen cards answered right in the last 30 days; null without
    /// any.
    retention: Option<f64>,
    streak_days: i32,
    /// The retention FSRS schedules for (0.7 to 0.97, by default 0.9).
    desired_retention: f64,
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<review::LearningStats> for LearningStats {
    fn from(s: review::LearningStats) -> Self {
        LearningStats {
            due_now: count(s.due_now),
            due_today: count(s.due_today),
            reviewed_today: count(s.reviewed_today),
            retention: s.retention,
            streak_days: int(s.streak_days),
            desired_retention: s.desired_retention,
        }
    }
}

#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// Your cards that are due, most overdue first (1 to 100).
    #[graphql(guard = "LoggedIn")]
    async fn review_queue(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<ReviewCard>> {
        let owner = &ctx.claims()?.sub;
        let cards = ctx.quiz_service().review_queue(owner, first).await?;
        Ok(cards.into_iter().map(ReviewCard).collect())
    }

    #[graphql(guard = "LoggedIn")]
    async fn learning_stats(&self, ctx: &Context<'_>) -> Result<LearningStats> {
        let owner = &ctx.claims()?.sub;
        Ok(ctx.quiz_service().learning_stats(owner).await?.into())
    }
}

#[derive(Default)]
pub struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Grades your answer to a card and schedules its next review.
    #[graphql(guard = "LoggedIn")]
    async fn submit_review(
        &self,
        ctx: &Context<'_>,
        card_id: ID,
        answer: ReviewAnswerInput,
    ) -> Result<ReviewOutcome> {
        let owner = &ctx.claims()?.sub;
        let answer = ReviewAnswer {
            choice_number: answer.choice_number,
            text: answer.text,
            rating: answer.rating.map(Into::into),
            time_taken_ms: answer.time_taken_ms,
        };
        let outcome = ctx
            .quiz_service()
            .submit_review(
                owner,
                &card_id,
                answer,
                ctx.request_budget(),
                ctx.request_auth().client(),
            )
            .await?;
        Ok(ReviewOutcome {
            correct: outcome.correct,
            correct_answer: outcome.correct_answer,
            explanation: outcome.explanation,
            source: outcome.source.as_ref().map(Into::into),
            grading_note: outcome.grading_note,
            next_due: outcome.card.due,
            card: ReviewCard(outcome.card),
        })
    }

    /// Sets the retention your reviews are scheduled for, 0.7 to 0.97.
    #[graphql(guard = "LoggedIn")]
    async fn set_desired_retention(&self, ctx: &Context<'_>, value: f64) -> Result<LearningStats> {
        let owner = &ctx.claims()?.sub;
        Ok(ctx
            .quiz_service()
            .set_desired_retention(owner, value)
            .await?
            .into())
    }

    /// Removes one of your cards from the loop.
    #[graphql(guard = "LoggedIn")]
    async fn delete_review_card(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let owner = &ctx.claims()?.sub;
        ctx.quiz_service().delete_review_card(owner, &id).await?;
        Ok(true)
    }
}
