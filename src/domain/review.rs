//! The learning loop: a review card per question a user answered, scheduled by FSRS (the `fsrs`
//! crate's default parameters), and a log of every review. A card is a snapshot of its question,
//! like a result, so it outlives its quiz.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{
    AppError, Message, MessageKey, QuestionRecord, QuizId, ReviewCardId, ReviewLogId, UserId,
};

/// How well an answer went, as FSRS counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum Rating {
    Again,
    Hard,
    Good,
    Easy,
}

impl Rating {
    /// A wrong answer is always `Again`; a right one is what the learner said, or `Good`.
    pub fn derive(correct: bool, stated: Option<Rating>) -> Rating {
        match (correct, stated) {
            (false, _) => Rating::Again,
            (true, Some(stated)) => stated,
            (true, None) => Rating::Good,
        }
    }
}

/// FSRS's memory model of one card; absent until its first review.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryState {
    pub stability: f32,
    pub difficulty: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewCardRecord {
    pub id: ReviewCardId,
    pub owner: UserId,
    pub quiz_id: QuizId,
    pub quiz_title: String,
    pub language: String,
    /// The question with its choices and explanation as they were answered.
    pub question: QuestionRecord,
    pub memory: Option<MemoryState>,
    pub due: DateTime<Utc>,
    /// Times a card that had been learned was answered wrongly.
    pub lapses: u32,
    pub reps: u32,
    pub last_review: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// How long a right answer to this card usually takes (a moving average of the times
    /// clients reported), against which a new time reads as Hard or Easy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usual_answer_ms: Option<u32>,
}

/// One review of one card, kept for the statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewLogRecord {
    pub id: ReviewLogId,
    pub card_id: ReviewCardId,
    pub owner: UserId,
    pub rating: Rating,
    pub correct: bool,
    /// Reviews the card had before this one: 0 for a first answer, which says nothing about
    /// retention.
    pub reps_before: u32,
    pub reviewed_at: DateTime<Utc>,
    pub scheduled_days: u32,
}

/// The retention a user aims for: FSRS schedules so that a card is remembered with this
/// probability when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct DesiredRetention(f64);

impl DesiredRetention {
    pub const DEFAULT: DesiredRetention = DesiredRetention(0.9);
    /// Below, reviews come too seldom to learn; above, too often to keep up.
    pub const MIN: f64 = 0.7;
    pub const MAX: f64 = 0.97;

    pub fn parse(value: f64) -> Result<Self, AppError> {
        if (Self::MIN..=Self::MAX).contains(&value) {
            Ok(DesiredRetention(value))
        } else {
            Err(AppError::bad_input(
                "value",
                Message::new(MessageKey::RetentionRange)
                    .with("min", Self::MIN.to_string())
                    .with("max", Self::MAX.to_string()),
            ))
        }
    }

    /// A stored value, kept within bounds whatever the database holds.
    pub fn from_stored(value: f64) -> Self {
        Self::parse(value).unwrap_or(Self::DEFAULT)
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// The longest interval: FSRS's own cap, and well inside what a date can hold.
const MAX_INTERVAL_DAYS: f32 = 36_500.0;

static SCHEDULER: LazyLock<fsrs::FSRS> = LazyLock::new(fsrs::FSRS::default);

impl ReviewCardRecord {
    /// A card for a question answered for the first time, due at once (its first review follows).
    pub fn new(
        owner: &UserId,
        quiz_id: &QuizId,
        quiz_title: &str,
        language: &str,
        question: &QuestionRecord,
        now: DateTime<Utc>,
    ) -> Self {
        ReviewCardRecord {
            id: ReviewCardId::new_random(),
            owner: owner.clone(),
            quiz_id: quiz_id.clone(),
            quiz_title: quiz_title.to_owned(),
            language: language.to_owned(),
            question: question.clone(),
            memory: None,
            due: now,
            lapses: 0,
            reps: 0,
            last_review: None,
            created_at: now,
            usual_answer_ms: None,
        }
    }

    /// The rating a right answer taking `taken_ms` earns against this card's usual time: Easy
    /// at half of it or less, Hard at twice or more, else Good (and Good without a usual time).
    pub fn rating_from_time(&self, taken_ms: u32) -> Rating {
        match self.usual_answer_ms {
            Some(usual) if u64::from(taken_ms) * 2 <= u64::from(usual) => Rating::Easy,
            Some(usual) if u64::from(taken_ms) >= u64::from(usual) * 2 => Rating::Hard,
            _ => Rating::Good,
        }
    }

    /// Folds the time of a right answer into the usual time; recent answers weigh most.
    pub fn note_answer_time(&mut self, taken_ms: u32) {
        self.usual_answer_ms = Some(match self.usual_answer_ms {
            None => taken_ms,
            Some(usual) => ((u64::from(usual) * 7 + u64::from(taken_ms) * 3) / 10) as u32,
        });
    }

    /// Schedules the card after a review at `now`, in whole days (at least one), and returns
    /// the review's log.
    pub fn review(
        &mut self,
        rating: Rating,
        correct: bool,
        now: DateTime<Utc>,
        retention: DesiredRetention,
    ) -> ReviewLogRecord {
        let elapsed_days = self.last_review.map_or(0, |last| {
            (now - last).num_days().clamp(0, i64::from(u32::MAX)) as u32
        });
        let memory = self.memory.map(|m| fsrs::MemoryState {
            stability: m.stability,
            difficulty: m.difficulty,
        });
        let retention = retention.get() as f32;
        // A stored state FSRS refuses (corrupt, or from other parameters) starts over.
        let next = SCHEDULER
            .next_states(memory, retention, elapsed_days)
            .or_else(|_| SCHEDULER.next_states(None, retention, 0))
            .expect("FSRS schedules a new card with its default parameters");
        let state = match rating {
            Rating::Again => next.again,
            Rating::Hard => next.hard,
            Rating::Good => next.good,
            Rating::Easy => next.easy,
        };
        let days = state.interval.round().clamp(1.0, MAX_INTERVAL_DAYS) as u32;
        let log = ReviewLogRecord {
            id: ReviewLogId::new_random(),
            card_id: self.id.clone(),
            owner: self.owner.clone(),
            rating,
            correct,
            reps_before: self.reps,
            reviewed_at: now,
            scheduled_days: days,
        };
        if rating == Rating::Again && self.memory.is_some() {
            self.lapses += 1;
        }
        self.reps += 1;
        self.memory = Some(MemoryState {
            stability: state.memory.stability,
            difficulty: state.memory.difficulty,
        });
        self.last_review = Some(now);
        self.due = now + Duration::days(i64::from(days));
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(now: DateTime<Utc>) -> ReviewCardRecord {
        let question = QuestionRecord::sample();
        let (owner, quiz) = (UserId::new_random(), QuizId::new_random());
        ReviewCardRecord::new(&owner, &quiz, "t", "en", &question, now)
    }

    #[test]
    fn right_answers_spread_out_and_a_miss_is_a_lapse() {
        let mut now = DateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut c = card(now);
        let mut intervals = Vec::new();
        for _ in 0..3 {
            c.review(Rating::Good, true, now, DesiredRetention::DEFAULT);
            intervals.push((c.due - now).num_days());
            now = c.due;
        }
        assert!(intervals.windows(2).all(|w| w[0] < w[1]), "{intervals:?}");
        assert_eq!((c.reps, c.lapses), (3, 0));
        let log = c.review(Rating::Again, false, now, DesiredRetention::DEFAULT);
        assert_eq!((c.reps, c.lapses, log.reps_before), (4, 1, 3));
        assert!(
            (c.due - now).num_days() < intervals[2],
            "a lapse comes back sooner"
        );
    }

    #[test]
    fn a_higher_retention_reviews_sooner() {
        let now = DateTime::UNIX_EPOCH + Duration::days(20_000);
        let due = |r: f64| {
            let mut c = card(now);
            c.review(Rating::Good, true, now, DesiredRetention::parse(r).unwrap());
            c.review(
                Rating::Good,
                true,
                c.due,
                DesiredRetention::parse(r).unwrap(),
            );
            c.due
        };
        assert!(due(0.97) < due(0.7));
    }

    #[test]
    fn answer_times_read_against_the_cards_usual_time() {
        let mut c = card(DateTime::UNIX_EPOCH);
        assert_eq!(c.rating_from_time(1), Rating::Good, "no usual time yet");
        c.note_answer_time(10_000);
        assert_eq!(c.rating_from_time(5_000), Rating::Easy);
        assert_eq!(c.rating_from_time(6_000), Rating::Good);
        assert_eq!(c.rating_from_time(19_000), Rating::Good);
        assert_eq!(c.rating_from_time(20_000), Rating::Hard);
        c.note_answer_time(20_000);
        assert_eq!(c.usual_answer_ms, Some(13_000));
    }

    #[test]
    fn retention_is_bounded_and_a_first_miss_is_no_lapse() {
        assert!(DesiredRetention::parse(0.69).is_err());
        assert!(DesiredRetention::parse(0.98).is_err());
        assert_eq!(
            DesiredRetention::from_stored(2.0),
            DesiredRetention::DEFAULT
        );
        let now = DateTime::UNIX_EPOCH;
        let mut c = card(now);
        c.review(
            Rating::derive(false, Some(Rating::Easy)),
            false,
            now,
            DesiredRetention::DEFAULT,
        );
        assert_eq!((c.reps, c.lapses), (1, 0));
        assert_eq!(Rating::derive(true, None), Rating::Good);
        assert_eq!(Rating::derive(true, Some(Rating::Hard)), Rating::Hard);
    }
}
