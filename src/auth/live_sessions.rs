//! Whether the session an access token names still exists. Access tokens are stateless, so
//! without this a logged-out or revoked session's token would keep working until it expires.
//! Each process remembers its answers for a short time (`SESSION_CACHE_TTL`), so a request costs
//! a map lookup and each active session one store read per TTL; an ending on this process is
//! recorded at once, one on another process is seen when the entry expires.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use crate::{
    domain::SharedClock,
    domain::{SessionId, UserId},
    store::{Store, StoreResult},
};

/// Bounds memory under a flood of distinct sessions; entries live one TTL anyway.
const MAX_ENTRIES: u64 = 100_000;

#[derive(Clone)]
struct Entry {
    user: UserId,
    /// `None` once the session is gone.
    times: Option<SessionTimes>,
    /// By the injected clock, which decides when the entry is stale; the cache's own expiry
    /// (the same TTL, in real time) only frees memory.
    read_at: DateTime<Utc>,
}

/// What decides whether a session is still going.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimes {
    /// Its absolute end.
    pub expires_at: DateTime<Utc>,
    /// Its login or latest refresh.
    pub last_activity: DateTime<Utc>,
}

pub struct LiveSessions {
    store: Arc<dyn Store>,
    clock: SharedClock,
    ttl: chrono::Duration,
    cache: Cache<SessionId, Entry>,
}

impl LiveSessions {
    pub fn new(store: Arc<dyn Store>, ttl: Duration, clock: SharedClock) -> Self {
        LiveSessions {
            store,
            clock,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            cache: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// `false` once the session was logged out, revoked, replaced or has run out.
    pub async fn is_live(&self, user: &UserId, session: &SessionId) -> StoreResult<bool> {
        Ok(self
            .times(user, session)
            .await?
            .is_some_and(|t| t.expires_at > self.clock.now()))
    }

    /// The session's times while it exists (`None` once it was logged out, revoked or
    /// replaced), read at most once per TTL.
    pub async fn times(
        &self,
        user: &UserId,
        session: &SessionId,
    ) -> StoreResult<Option<SessionTimes>> {
        let now = self.clock.now();
        if let Some(entry) = self.cache.get(session)
            && &entry.user == user
            && now - entry.read_at < self.ttl
        {
            return Ok(entry.times);
        }
        let times = self
            .store
            .find_session(user, session)
            .await?
            .map(|s| SessionTimes {
                expires_at: s.expires_at,
                last_activity: s.last_refreshed_at.unwrap_or(s.created_at),
            });
        self.cache.insert(
            session.clone(),
            Entry {
                user: user.clone(),
                times,
                read_at: now,
            },
        );
        Ok(times)
    }

    /// This process ended the session: refuse its tokens from now on.
    pub fn ended(&self, user: &UserId, session: &SessionId) {
        self.cache.insert(
            session.clone(),
            Entry {
                user: user.clone(),
                times: None,
                // An ending is known for good, however stale the entry gets.
                read_at: DateTime::<Utc>::MAX_UTC,
            },
        );
    }

    /// This process ended every session of `user` but `keep`: look them up again.
    pub fn ended_all(&self, user: &UserId, keep: Option<&SessionId>) {
        for (session, entry) in &self.cache {
            if &entry.user == user && Some(&*session) != keep {
                self.cache.invalidate(&*session);
            }
        }
    }
}
