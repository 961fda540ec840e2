//! The learning loop: every answered question becomes (or moves) a review card of its owner's,
//! scheduled by FSRS; due cards come back as a review queue. Cards are snapshots, so deleting a
//! quiz keeps them.

use chrono::{DateTime, Duration, Utc};

use super::{
    QuizService,
    grading::{self, Given},
    marking::CloseAnswer,
    typed::Verdict,
};
use crate::{
    domain::{
        AppError, AppResult, ClientInfo, DesiredRetention, Message, MessageKey, QuizRecord,
        QuizResultRecord, Rating, ReviewCardId, ReviewCardRecord, SourcePassageRecord, UserId,
    },
    ratelimit::{Bucket, RequestBudget},
    store::{StoreResult, day_number},
};

/// `reviewQueue(first)` bounds.
pub const QUEUE_SIZE: std::ops::RangeInclusive<i32> = 1..=100;
/// True retention is measured over this many days.
const RETENTION_WINDOW_DAYS: i64 = 30;
/// Streaks are counted back this far at most.
const STREAK_WINDOW_DAYS: i64 = 366;

/// How often a card's review is tried again when another review of it lands first.
const SAVE_ATTEMPTS: u32 = 8;
/// The longest answer time a client may report: an hour.
pub const TIME_TAKEN_MAX_MS: u32 = 3_600_000;

/// An answer to a review card as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct ReviewAnswer {
    pub choice_number: Option<i32>,
    pub text: Option<String>,
    /// How hard the learner found a right answer; ignored for a wrong one.
    pub rating: Option<Rating>,
    /// How long the learner took; without a `rating`, a right answer much faster or slower
    /// than the card's usual reads as Easy or Hard.
    pub time_taken_ms: Option<i32>,
}

/// A graded review and the card as rescheduled.
#[derive(Debug, Clone)]
pub struct ReviewOutcome {
    pub correct: bool,
    pub correct_answer: String,
    pub explanation: Option<String>,
    pub source: Option<SourcePassageRecord>,
    /// The model's reason, when it judged a typed answer close to an accepted one.
    pub grading_note: Option<String>,
    pub card: ReviewCardRecord,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LearningStats {
    /// Cards due now.
    pub due_now: u64,
    /// Cards due before the end of the UTC day.
    pub due_today: u64,
    /// Reviews (quiz answers included) since the start of the UTC day.
    pub reviewed_today: u64,
    /// Share of reviews of already-reviewed cards answered right in the last 30 days; `None`
    /// without any.
    pub retention: Option<f64>,
    /// UTC days in a row with a review, up to today (or yesterday, while today has none yet).
    pub streak_days: u32,
    pub desired_retention: f64,
}

fn start_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(day_number(t) * 86_400, 0).unwrap_or(t)
}

impl QuizService {
    /// Moves the owner's card of every answered question of `result` (making those missing),
    /// rated from the answer alone. A card that cannot be written is logged, not an error: the
    /// result it follows is kept already.
    pub(super) async fn schedule_answers(&self, quiz: &QuizRecord, result: &QuizResultRecord) {
        if let Err(err) = self.try_schedule_answers(quiz, result).await {
            tracing::error!(user_id = %result.owner, quiz_id = %quiz.id, error = %err, "review cards not updated");
        }
    }

    async fn try_schedule_answers(
        &self,
        quiz: &QuizRecord,
        result: &QuizResultRecord,
    ) -> StoreResult<()> {
        let owner = &result.owner;
        let (mut existing, retention) = tokio::try_join!(
            self.store.find_review_cards_of_quiz(owner, &quiz.id),
            self.desired_retention(owner),
        )?;
        let now = result.submitted_at;
        for answer in result.answers.iter().filter(|a| a.answered()) {
            let Some(question) = quiz
                .questions
                .iter()
                .find(|q| q.number == answer.question_number)
            else {
                continue;
            };
            for attempt in 1.. {
                let mut card = existing
                    .iter()
                    .find(|c| c.question.number == question.number)
                    .cloned()
                    .unwrap_or_else(|| {
                        ReviewCardRecord::new(
                            owner,
                            &quiz.id,
                            &quiz.title,
                            &quiz.language,
                            question,
                            now,
                        )
                    });
                let rating = Rating::derive(answer.is_correct, None);
                let log = card.review(rating, answer.is_correct, now, retention);
                if self.store.save_review(&card, &log).await? {
                    break;
                }
                if attempt == SAVE_ATTEMPTS {
                    tracing::warn!(user_id = %owner, quiz_id = %quiz.id, question = question.number, "review card kept changing; this answer did not move it");
                    break;
                }
                // A review of the same card landed in between: schedule from that one.
                existing = self
                    .store
                    .find_review_cards_of_quiz(owner, &quiz.id)
                    .await?;
            }
        }
        Ok(())
    }

    async fn desired_retention(&self, owner: &UserId) -> StoreResult<DesiredRetention> {
        Ok(self
            .store
            .desired_retention(owner)
            .await?
            .map_or(DesiredRetention::DEFAULT, DesiredRetention::from_stored))
    }

    /// The owner's due cards, most overdue first.
    pub async fn review_queue(
        &self,
        owner: &UserId,
        first: i32,
    ) -> AppResult<Vec<ReviewCardRecord>> {
        if !QUEUE_SIZE.contains(&first) {
            return Err(AppError::bad_input(
                "first",
                Message::new(MessageKey::PageSize).with("max", *QUEUE_SIZE.end()),
            ));
        }
        Ok(self
            .store
            .due_review_cards(owner, self.clock.now(), first as usize)
            .await?)
    }

    /// Grades an answer to one of the owner's cards and reschedules it. Reviews of one card
    /// that race are applied one after the other, none lost.
    pub async fn submit_review(
        &self,
        owner: &UserId,
        card_id: &str,
        answer: ReviewAnswer,
        budget: &RequestBudget,
        client: &ClientInfo,
    ) -> AppResult<ReviewOutcome> {
        self.throttle
            .check(Bucket::SubmitUser, owner.as_str(), Some(owner), client)
            .await?;
        let id = ReviewCardId::parse(card_id).ok_or(AppError::NotFound)?;
        let mut card = self
            .store
            .find_review_card(owner, &id)
            .await?
            .ok_or(AppError::NotFound)?;
        let taken_ms = answer
            .time_taken_ms
            .map(|ms| {
                u32::try_from(ms)
                    .ok()
                    .filter(|ms| *ms <= TIME_TAKEN_MAX_MS)
                    .ok_or_else(|| {
                        AppError::bad_input(
                            "timeTakenMs",
                            Message::new(MessageKey::TimeTakenRange).with("max", TIME_TAKEN_MAX_MS),
                        )
                    })
            })
            .transpose()?;
        let (correct, note) = self.grade_review(&card, &answer, budget).await?;
        let question = &card.question;
        let correct_answer = question.correct_answer().to_owned();
        let explanation = question.explanation.clone();
        let source = question.source.clone();
        let retention = self.desired_retention(owner).await?;
        for attempt in 1.. {
            let from_time = taken_ms
                .filter(|_| correct)
                .map(|t| card.rating_from_time(t));
            let rating = Rating::derive(correct, answer.rating.or(from_time));
            let log = card.review(rating, correct, self.clock.now(), retention);
            if let (true, Some(t)) = (correct, taken_ms) {
                card.note_answer_time(t);
            }
            if self.store.save_review(&card, &log).await? {
                break;
            }
            if attempt == SAVE_ATTEMPTS {
                return Err(AppError::internal(anyhow::anyhow!(
                    "review card {id} changed under {SAVE_ATTEMPTS} reviews in a row"
                )));
            }
            // Another review of this card landed first: review the card as it now stands.
            card = self
                .store
                .find_review_card(owner, &id)
                .await?
                .ok_or(AppError::NotFound)?;
        }
        Ok(ReviewOutcome {
            correct,
            correct_answer,
            explanation,
            source,
            grading_note: note,
            card,
        })
    }

    /// Whether a review answer is right, and the model's reason when it judged a typed one.
    async fn grade_review(
        &self,
        card: &ReviewCardRecord,
        answer: &ReviewAnswer,
        budget: &RequestBudget,
    ) -> AppResult<(bool, Option<String>)> {
        let question = &card.question;
        let given = grading::given(
            question,
            answer.choice_number,
            answer.text.as_deref(),
            ["choiceNumber", "text"],
        )?;
        match (given.verdict(question, &card.language), &given) {
            (Verdict::Right, _) => Ok((true, None)),
            (Verdict::Close, Given::Text(typed)) => {
                let asked = [CloseAnswer {
                    question_number: question.number,
                    question: &question.content,
                    accepted: &question.accepted_answers,
                    typed,
                }];
                let judged = self.judge_close(&card.language, &asked, budget).await;
                Ok(judged
                    .get(&question.number)
                    .map_or((false, None), |(ok, why)| (*ok, Some(why.clone()))))
            }
            _ => Ok((false, None)),
        }
    }

    pub async fn delete_review_card(&self, owner: &UserId, id: &str) -> AppResult<()> {
        let id = ReviewCardId::parse(id).ok_or(AppError::NotFound)?;
        if self.store.delete_review_card(owner, &id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn set_desired_retention(
        &self,
        owner: &UserId,
        value: f64,
    ) -> AppResult<LearningStats> {
        let value = DesiredRetention::parse(value)?;
        self.store.set_desired_retention(owner, value.get()).await?;
        self.learning_stats(owner).await
    }

    pub async fn learning_stats(&self, owner: &UserId) -> AppResult<LearningStats> {
        let now = self.clock.now();
        let today = start_of_day(now);
        let (due_now, due_today, logs, days, retention) = tokio::try_join!(
            self.store.count_due_review_cards(owner, now),
            self.store.count_due_review_cards(
                owner,
                today + Duration::days(1) - Duration::milliseconds(1)
            ),
            self.store
                .review_logs_since(owner, now - Duration::days(RETENTION_WINDOW_DAYS)),
            self.store
                .review_days(owner, day_number(now) - STREAK_WINDOW_DAYS),
            self.store.desired_retention(owner),
        )?;
        let reviewed_today = logs.iter().filter(|l| l.reviewed_at >= today).count() as u64;
        let (recalled, recalls) = logs
            .iter()
            .filter(|l| l.reps_before > 0)
            .fold((0u32, 0u32), |(right, all), l| {
                (right + u32::from(l.correct), all + 1)
            });
        Ok(LearningStats {
            due_now,
            due_today,
            reviewed_today,
            retention: (recalls > 0).then(|| f64::from(recalled) / f64::from(recalls)),
            streak_days: streak(&days, day_number(now)),
            desired_retention: retention
                .map_or(DesiredRetention::DEFAULT, DesiredRetention::from_stored)
                .get(),
        })
    }
}

/// Days in a row in `days` (newest first) ending today, or yesterday while today has none.
fn streak(days: &[i64], today: i64) -> u32 {
    let mut expected = match days.first() {
        Some(&d) if d == today || d == today - 1 => d,
        _ => return 0,
    };
    let mut n = 0;
    for &d in days {
        if d != expected {
            break;
        }
        n += 1;
        expected -= 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::streak;

    #[test]
    fn a_streak_counts_days_in_a_row_up_to_today_or_yesterday() {
        assert_eq!(streak(&[], 100), 0);
        assert_eq!(streak(&[100, 99, 98, 96], 100), 3);
        assert_eq!(streak(&[99, 98], 100), 2);
        assert_eq!(streak(&[98, 97], 100), 0);
    }
}
