//! Caps on long-lived streams (subscription sockets and multipart responses), which hold a
//! connection for as long as they last: at most `STREAMS_PER_ADDRESS` per client address and a
//! `STREAMS_CONNECTION_SHARE` of `HTTP_MAX_CONNECTIONS` in all on each process, so plain
//! requests (`/healthz`, a login) always find a connection, and at most `STREAMS_PER_USER` per
//! user across the deployment. The per-user count lives in the store as one lease per stream,
//! renewed by its process while the stream lives, so every process sharing the store counts
//! against the same cap and a process that dies holds nothing for longer than a lease.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_graphql::{ErrorExtensions, ServerError};
use poem::http::{HeaderValue, StatusCode, header};
use tokio_util::sync::CancellationToken;

use super::{
    response::{self, MediaType},
    subscriptions::SubscriptionSettings,
};
use crate::{
    auth::tokens::chrono_duration,
    domain::UserId,
    domain::{AppError, ErrorCode, Locale, Message, MessageKey, SharedClock},
    graphql::error::{coded_error, render_error},
    store::Store,
};

/// What a refused client is told to wait: a stream may end at any moment.
const RETRY_AFTER_SECS: u64 = 10;

/// Which cap a stream would break.
#[derive(Debug)]
pub enum Refused {
    /// The streams of this process together (`STREAMS_CONNECTION_SHARE`).
    Connections(usize),
    /// One client address on this process (`STREAMS_PER_ADDRESS`).
    Address(usize),
    /// One user across the deployment (`STREAMS_PER_USER`).
    User(u32),
    /// The store could not count the user's streams.
    Unavailable(AppError),
}

impl Refused {
    /// The close code and reason for a socket refused at `connection_init`.
    pub fn close(&self) -> (u16, ErrorCode) {
        match self {
            Refused::Unavailable(_) => (4500, ErrorCode::Internal),
            _ => (4429, ErrorCode::RateLimited),
        }
    }

    /// `RATE_LIMITED` with `extensions.limit` and `retryAfter` (or `INTERNAL`), in English
    /// until the edge renders it for its reader.
    pub fn error(self) -> ServerError {
        let (limit, message) = match self {
            Refused::Connections(_) => ("streamConnections", Message::new(MessageKey::StreamsFull)),
            Refused::Address(max) => (
                "streamsPerAddress",
                Message::new(MessageKey::StreamsPerAddress).with("max", max),
            ),
            Refused::User(max) => (
                "streamsPerUser",
                Message::new(MessageKey::StreamsPerUser).with("max", max),
            ),
            Refused::Unavailable(err) => {
                let err: async_graphql::Error = err.into();
                return err.into_server_error(Default::default());
            }
        };
        coded_error(ErrorCode::RateLimited, message)
            .extend_with(|_, ext| {
                ext.set("limit", limit);
                ext.set("retryAfter", RETRY_AFTER_SECS);
            })
            .into_server_error(Default::default())
    }

    /// The refusal of a stream asked for over HTTP (a multipart subscription or a WebSocket
    /// upgrade), in `locale`.
    pub fn response(self, media: MediaType, locale: Locale) -> poem::Response {
        let status = match self {
            Refused::Connections(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refused::Unavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Refused::Address(_) | Refused::User(_) => StatusCode::TOO_MANY_REQUESTS,
        };
        let mut error = self.error();
        render_error(&mut error, locale);
        let mut resp = response::refusal(media, status, error);
        let headers = resp.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    }
}

/// The streams of this process, and the leases it holds in the store.
pub struct Streams {
    store: Arc<dyn Store>,
    clock: SharedClock,
    max_streams: usize,
    per_address: usize,
    per_user: u32,
    lease_ttl: Duration,
    open: Mutex<Open>,
    leases: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    per_address: HashMap<Option<IpAddr>, usize>,
}

/// A stream counted on this process; counted out when dropped.
pub struct Admitted {
    streams: Arc<Streams>,
    ip: Option<IpAddr>,
}

/// A stream's lease in the store; given back when dropped.
pub struct Lease {
    streams: Arc<Streams>,
    user: UserId,
    id: String,
}

impl Streams {
    pub fn new(
        settings: &SubscriptionSettings,
        max_connections: usize,
        store: Arc<dyn Store>,
        clock: SharedClock,
    ) -> Arc<Self> {
        // Truncated, so the share never rounds up into the connections kept for requests.
        let max_streams = (max_connections as f64 * settings.streams_connection_share) as usize;
        Arc::new(Streams {
            store,
            clock,
            max_streams,
            per_address: settings.streams_per_address,
            per_user: settings.streams_per_user,
            lease_ttl: settings.stream_lease_ttl,
            open: Mutex::default(),
            leases: Mutex::default(),
        })
    }

    /// Counts one more stream from `ip`, unless this process or that address is full.
    pub fn admit(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<Admitted, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max_streams {
            return Err(Refused::Connections(self.max_streams));
        }
        let from_ip = open.per_address.entry(ip).or_default();
        if *from_ip >= self.per_address {
            return Err(Refused::Address(self.per_address));
        }
        *from_ip += 1;
        open.total += 1;
        Ok(Admitted {
            streams: self.clone(),
            ip,
        })
    }

    /// Takes a lease for one more stream of `user`, unless the user holds the cap already
    /// (on any process).
    pub async fn lease(self: &Arc<Self>, user: &UserId) -> Result<Lease, Refused> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = self.clock.now();
        let taken = self
            .store
            .take_stream_lease(
                user,
                &id,
                self.per_user,
                now,
                now + chrono_duration(self.lease_ttl),
            )
            .await
            .map_err(|err| Refused::Unavailable(err.into()))?;
        if !taken {
            return Err(Refused::User(self.per_user));
        }
        self.leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone());
        Ok(Lease {
            streams: self.clone(),
            user: user.clone(),
            id,
        })
    }

    /// Renews this process's leases every third of their lifetime (and deletes lapsed ones of
    /// any process) until `stop`.
    pub async fn renew_periodically(self: Arc<Self>, stop: CancellationToken) {
        let every = self.lease_ttl / 3;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = stop.cancelled() => return,
            }
            let held: Vec<String> = self
                .leases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect();
            let now = self.clock.now();
            let until = now + chrono_duration(self.lease_ttl);
            if let Err(err) = self.store.renew_stream_leases(&held, until).await {
                tracing::warn!(error = %err.chain(), "could not renew the stream leases; will retry");
            }
            if let Err(err) = self.store.purge_stream_leases(now).await {
                tracing::warn!(error = %err.chain(), "could not purge lapsed stream leases");
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.per_address.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.per_address.remove(&self.ip);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.streams
            .leases
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        let (store, user, id) = (
            self.streams.store.clone(),
            self.user.clone(),
            std::mem::take(&mut self.id),
        );
        // A lease not given back lapses on its own, once its process stops renewing it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.release_stream_lease(&user, &id).await {
                    tracing::warn!(error = %err.chain(), "could not give a stream lease back");
                }
            });
        }
    }
}
