//! Accepts TCP connections and serves the poem endpoint on them through hyper, with the limits a
//! public server needs against slow clients: a request head must arrive within
//! `HTTP_HEADER_TIMEOUT` of its first byte (a new connection's first one within that time of
//! opening), a request body within `HTTP_BODY_TIMEOUT` of its head, a keep-alive connection is
//! closed after `HTTP_IDLE_TIMEOUT` without a request, and at most `HTTP_MAX_CONNECTIONS` are
//! open at once (further ones wait in the listen backlog). poem's own `Server` takes none of
//! these: it builds hyper with no header-read timeout and accepts without bound.

use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use poem::{
    Addr, Body, Endpoint,
    endpoint::BoxEndpoint,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep, sleep, sleep_until},
};

use crate::config::parse::parse_duration;

/// `HTTP_*`: how long slow or idle clients may hold a connection, and how many may be open.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ConnectionLimits {
    /// A request head must arrive within this of its first byte (of the connection opening,
    /// for the first request); else the connection is closed.
    #[arg(long = "http-header-timeout", env = "HTTP_HEADER_TIMEOUT", value_name = "HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// A request body must arrive within this of its head; else HTTP 408 and the connection is
    /// closed.
    #[arg(long = "http-body-timeout", env = "HTTP_BODY_TIMEOUT", value_name = "HTTP_BODY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in progress is closed after this.
    #[arg(long = "http-idle-timeout", env = "HTTP_IDLE_TIMEOUT", value_name = "HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Most connections open at once; further ones wait in the listen backlog. Keep it well
    /// below the open-file limit (`ulimit -n`).
    #[arg(long = "http-max-connections", env = "HTTP_MAX_CONNECTIONS", value_name = "HTTP_MAX_CONNECTIONS", default_value = "512", value_parser = parse_max_connections)]
    pub max_connections: usize,
}

fn parse_max_connections(s: &str) -> Result<usize, String> {
    crate::config::parse::parse_count(s, 1..=usize::MAX)
}

/// How long to wait before accepting again after `accept` failed (out of file descriptors,
/// say): at once would spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serves `endpoint` on `listener` until `shutdown` resolves, then lets open requests finish
/// for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let endpoint = Arc::new(endpoint);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, remote, slot) = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let tracker = Arc::new(Tracker::new());
        let io = TokioIo::new(TrackedIo {
            stream,
            tracker: tracker.clone(),
            _slot: slot,
        });
        let service = hyper::service::service_fn({
            let (endpoint, tracker, local) = (endpoint.clone(), tracker.clone(), local.clone());
            let remote = RemoteAddr(Addr::SocketAddr(remote));
            move |req| {
                let in_flight = tracker.request_started();
                let mut req =
                    poem::Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
                let body = req.take_body();
                req.set_body(Body::from(BoxBody::new(Deadline::new(
                    body.into(),
                    limits.body_timeout,
                ))));
                let endpoint = endpoint.clone();
                async move {
                    let response: hyper::Response<BoxBody<Bytes, io::Error>> =
                        endpoint.get_response(req).await.into();
                    Ok::<_, Infallible>(response.map(|body| InFlightBody {
                        body,
                        _in_flight: in_flight,
                    }))
                }
            }
        });
        let conn = graceful.watch(
            builder
                .serve_connection_with_upgrades(io, service)
                .into_owned(),
        );
        tokio::spawn(async move {
            tokio::select! {
                result = conn => {
                    if let Err(err) = result {
                        tracing::debug!(%remote, error = %err, "connection ended with an error");
                    }
                }
                overstayed = watchdog(&tracker, &limits) => {
                    tracing::debug!(%remote, overstayed, "closing a slow or idle connection");
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests were still running when the shutdown grace period ended");
    }
    Ok(())
}

/// Waits for a free connection slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => return (stream, remote, slot),
            Err(err) => {
                tracing::warn!(error = %err, "cannot accept a connection");
                sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

/// Where a connection stands, as its timeouts see it.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Between requests, since then.
    Idle(Instant),
    /// Reading a request head that started then (a new connection starts here).
    Head(Instant),
    /// This many requests are being handled or answered (HTTP/2 may run several at once).
    Busy(usize),
}

struct Tracker {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Tracker {
    fn new() -> Self {
        Tracker {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *phase = f(*phase);
        self.changed.notify_one();
    }

    /// Bytes arrived: on an idle connection, a request head has begun.
    fn received(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            self.changed.notify_one();
        }
    }

    /// Called once a request head has been read; the request counts until the guard drops.
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Idle(_) | Phase::Head(_) => Phase::Busy(1),
        });
        InFlight(self.clone())
    }

    /// When the connection overstays, and which limit that would be.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<(Instant, &'static str)> {
        match *self.phase.lock().unwrap_or_else(|e| e.into_inner()) {
            Phase::Idle(since) => Some((since + limits.idle_timeout, "idle")),
            Phase::Head(since) => Some((since + limits.header_timeout, "request head")),
            Phase::Busy(_) => None,
        }
    }
}

/// A request being handled or answered: dropped with the response body once it is sent (or
/// when the connection goes first).
struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// Resolves, naming the limit, once the connection has overstayed one.
async fn watchdog(tracker: &Tracker, limits: &ConnectionLimits) -> &'static str {
    loop {
        let changed = tracker.changed.notified();
        match tracker.deadline(limits) {
            Some((deadline, limit)) if deadline <= Instant::now() => return limit,
            Some((deadline, _)) => {
                tokio::select! {
                    () = changed => {}
                    () = sleep_until(deadline) => {}
                }
            }
            None => changed.await,
        }
    }
}

/// The TCP stream, telling the tracker when bytes arrive, and holding the connection's slot for
/// as long as the socket is open (an upgraded connection keeps it).
struct TrackedIo {
    stream: TcpStream,
    tracker: Arc<Tracker>,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.tracker.received();
        }
        result
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A request body that fails with `TimedOut` once it is late. A handler that gives up on it
/// drops it unread, and hyper then closes the connection after the response.
struct Deadline {
    body: BoxBody<Bytes, io::Error>,
    timer: Pin<Box<Sleep>>,
    limit: Duration,
}

impl Deadline {
    fn new(body: BoxBody<Bytes, io::Error>, limit: Duration) -> Self {
        Deadline {
            body,
            timer: Box::pin(sleep(limit)),
            limit,
        }
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Pending if this.timer.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the request body did not arrive within {}",
                        humantime::format_duration(this.limit)
                    ),
                ))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that keeps its request counted as in flight until it is sent.
struct InFlightBody {
    body: BoxBody<Bytes, io::Error>,
    _in_flight: InFlight,
}

impl HttpBody for InFlightBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
