//! Serving HTTP with bounded connections. Every listener (the API's and each webhook handler's
//! own port) accepts through one [`Connections`], which closes a connection that:
//!
//! - has not sent a complete request head within `header_read_timeout` (a silent connection,
//!   or a request trickled in a byte at a time);
//! - has waited `idle_timeout` for its next request after the last answer (keep-alive);
//! - (through its request body) has not sent a whole body within `body_read_timeout`.
//!
//! and caps the connections open at once. At the cap, a new connection makes room by closing
//! the oldest one that has no request in progress, so a flood of idle sockets cannot lock out
//! health checks and the API; only when every connection is busy is the new one closed at once
//! (a quick refusal, never a hang). The cap is also kept below the process's file-descriptor
//! limit, which [`raise_fd_limit`] first raises as far as the hard limit allows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use rustyhook_core::settings::LimitSettings;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Layer, ServiceExt as _};
use tower_http::normalize_path::NormalizePathLayer;

/// How long a closed-for-idleness connection may take to finish what it was writing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// A connection with a request in progress is looked at again this often.
const RECHECK: Duration = Duration::from_secs(1);
/// File descriptors kept out of the connection cap: the database, log files, commands' pipes.
const FD_RESERVE_MIN: u64 = 32;

/// The limits every connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a connection has to send a complete request head.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Time a request has to send its whole body, from its head's arrival.
    pub body_read_timeout: Duration,
    /// Connections open at once across all listeners.
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The limits of `settings`, with the cap lowered to fit under `fd_limit` (the soft limit
    /// on open files), leaving a quarter of it (at least 32) for everything else.
    pub fn from_settings(settings: &LimitSettings, fd_limit: Option<u64>) -> Self {
        let mut max = settings.max_connections;
        if let Some(fds) = fd_limit {
            let room = fds.saturating_sub((fds / 4).max(FD_RESERVE_MIN)).max(1);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            if room < max {
                tracing::warn!(
                    configured = max,
                    used = room,
                    fd_limit = fds,
                    "limits.max_connections lowered to fit the open-file limit"
                );
                max = room;
            }
        }
        Self {
            header_read_timeout: settings.header_read_timeout,
            idle_timeout: settings.idle_timeout,
            body_read_timeout: settings.body_read_timeout,
            max_connections: max.max(1),
        }
    }
}

/// Raises the soft limit on open files to the hard limit (capped at 1,048,576) and returns the
/// soft limit in force, or `None` where it cannot be read.
pub fn raise_fd_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let wanted = hard.min(1 << 20);
    if wanted > soft {
        match setrlimit(Resource::RLIMIT_NOFILE, wanted, hard) {
            Ok(()) => return Some(wanted),
            Err(e) => tracing::warn!(error = %e, soft, hard, "could not raise the open-file limit"),
        }
    }
    Some(soft)
}

/// The open connections of every listener, and the limits they are held to.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

struct Inner {
    limits: ConnectionLimits,
    /// Open connections by age (ids increase).
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// The zero of every connection's clock.
    epoch: Instant,
}

/// One connection's state, shared by its task, its I/O and its requests. Times are
/// milliseconds since [`Inner::epoch`], plus one so that zero means "never".
struct Conn {
    opened: u64,
    /// Requests whose answer is not yet produced.
    active: AtomicUsize,
    /// Requests received so far.
    served: AtomicU64,
    /// When the last request's answer was produced.
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived, while no request is in progress.
    head_started: AtomicU64,
    /// When bytes were last written (an answer's body may stream after it is produced).
    last_write: AtomicU64,
    /// Fired to close the connection to make room under the cap.
    evict: CancellationToken,
}

impl Connections {
    /// An empty set held to `limits`.
    pub fn new(limits: ConnectionLimits) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                open: Mutex::new(BTreeMap::new()),
                next_id: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        }
    }

    fn now(&self) -> u64 {
        millis_since(self.inner.epoch)
    }

    /// Registers a new connection, closing the oldest idle one if the cap is reached; `None`
    /// when every open connection is busy.
    fn admit(&self) -> Option<(u64, Arc<Conn>)> {
        let mut open = self.inner.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.len() >= self.inner.limits.max_connections {
            let oldest_idle = open
                .iter()
                .find(|(_, c)| c.active.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(evicted) = open.remove(&oldest_idle) {
                evicted.evict.cancel();
            }
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            opened: self.now(),
            active: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            last_write: AtomicU64::new(0),
            evict: CancellationToken::new(),
        });
        open.insert(id, conn.clone());
        Some((id, conn))
    }

    fn forget(&self, id: u64) {
        let mut open = self.inner.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(&id);
    }

    /// When `conn` is to be closed, if no request is in progress.
    fn deadline(&self, conn: &Conn) -> Option<u64> {
        if conn.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let limits = &self.inner.limits;
        let head = conn.head_started.load(Ordering::Acquire);
        Some(if head != 0 {
            head + millis(limits.header_read_timeout)
        } else if conn.served.load(Ordering::Acquire) == 0 {
            conn.opened + millis(limits.header_read_timeout)
        } else {
            let rest = conn
                .idle_since
                .load(Ordering::Acquire)
                .max(conn.last_write.load(Ordering::Acquire));
            rest + millis(limits.idle_timeout)
        })
    }

    /// Serves `router` on `listener` until `token` fires, then lets requests in progress
    /// finish. Paths are served with or without a trailing slash, and handlers can read the
    /// peer's address.
    pub async fn serve(
        &self,
        listener: TcpListener,
        router: axum::Router,
        token: CancellationToken,
    ) -> std::io::Result<()> {
        let app = NormalizePathLayer::trim_trailing_slash().layer(router);
        let tasks = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                () = token.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some((id, conn)) = self.admit() else {
                tracing::debug!(%peer, "connection refused: every connection is busy");
                drop(stream);
                continue;
            };
            let this = self.clone();
            let (app, token) = (app.clone(), token.clone());
            tasks.spawn(async move {
                this.serve_one(stream, peer, conn, app, token).await;
                this.forget(id);
            });
        }
        tasks.close();
        tasks.wait().await;
        Ok(())
    }

    async fn serve_one<S>(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        conn: Arc<Conn>,
        app: S,
        token: CancellationToken,
    ) where
        S: tower::Service<
                Request,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send,
    {
        let io = TokioIo::new(Tracked {
            io: stream,
            conn: conn.clone(),
            epoch: self.inner.epoch,
        });
        let body_timeout = self.inner.limits.body_read_timeout;
        let (epoch, for_requests) = (self.inner.epoch, conn.clone());
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let started = Started::new(for_requests.clone(), epoch);
            let mut req = req.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                // The request stays in progress until its answer's body is sent: a streamed
                // answer (the live feed) is neither idle nor the first to make room.
                let answer = app.oneshot(req).await;
                answer.map(|res| {
                    res.map(|body| {
                        Body::new(AnswerBody {
                            body,
                            _started: started,
                        })
                    })
                })
            }
        });
        let served = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
        let mut served = std::pin::pin!(served);
        let shutting_down = loop {
            let now = self.now();
            let wake = match self.deadline(&conn) {
                Some(at) if at <= now => break false,
                Some(at) => Duration::from_millis(at - now).min(RECHECK),
                None => RECHECK,
            };
            tokio::select! {
                _ = served.as_mut() => return,
                () = token.cancelled() => break true,
                () = conn.evict.cancelled() => break false,
                () = tokio::time::sleep(wake) => {}
            }
        };
        served.as_mut().graceful_shutdown();
        if shutting_down {
            // Requests in progress finish, as before shutdown.
            let _ = served.await;
        } else {
            let _ = tokio::time::timeout(CLOSE_GRACE, served).await;
        }
    }
}

/// Marks a request in progress on its connection until dropped (its answer produced).
struct Started {
    conn: Arc<Conn>,
    epoch: Instant,
}

impl Started {
    fn new(conn: Arc<Conn>, epoch: Instant) -> Self {
        conn.active.fetch_add(1, Ordering::AcqRel);
        conn.served.fetch_add(1, Ordering::AcqRel);
        conn.head_started.store(0, Ordering::Release);
        Self { conn, epoch }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.conn
            .idle_since
            .store(millis_since(self.epoch), Ordering::Release);
        self.conn.active.fetch_sub(1, Ordering::AcqRel);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2)
}

fn millis_since(epoch: Instant) -> u64 {
    millis(epoch.elapsed()) + 1
}

/// A socket that tells its connection when bytes move.
struct Tracked {
    io: TcpStream,
    conn: Arc<Conn>,
    epoch: Instant,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before
            && this.conn.active.load(Ordering::Acquire) == 0
            && this.conn.head_started.load(Ordering::Acquire) == 0
        {
            let now = millis_since(this.epoch);
            this.conn.head_started.store(now, Ordering::Release);
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            let now = millis_since(this.epoch);
            this.conn.last_write.store(now, Ordering::Release);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The request body was not received in time.
#[derive(Debug)]
struct BodyTimeout(Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body was not received within {:?} (limits.body_read_timeout)",
            self.0
        )
    }
}

impl std::error::Error for BodyTimeout {}

/// A request body that fails once `limit` has passed since its request's head arrived, so a
/// client cannot hold a request (and its connection) open by sending its body slowly.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(BodyTimeout(this.limit).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in progress (see [`Started`]) until it is sent or
/// dropped.
struct AnswerBody {
    body: Body,
    _started: Started,
}

impl hyper::body::Body for AnswerBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_connections,
        }
    }

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_never_do() {
        let c = Connections::new(limits(2));
        let (_, first) = c.admit().expect("room");
        let (_, second) = c.admit().expect("room");
        first.active.store(1, Ordering::Release);
        let (_, third) = c.admit().expect("the idle second makes room");
        assert!(second.evict.is_cancelled());
        assert!(!first.evict.is_cancelled());
        second.active.store(0, Ordering::Release);
        // The third is idle; make it busy too: now nobody can make room.
        third.active.store(1, Ordering::Release);
        assert!(c.admit().is_none());
    }

    #[test]
    fn a_new_connection_gets_the_header_timeout_and_a_used_one_the_idle_timeout() {
        let c = Connections::new(limits(8));
        let (_, conn) = c.admit().expect("room");
        assert_eq!(c.deadline(&conn), Some(conn.opened + 10_000));
        conn.served.store(1, Ordering::Release);
        conn.idle_since.store(500, Ordering::Release);
        assert_eq!(c.deadline(&conn), Some(60_500));
        conn.head_started.store(700, Ordering::Release);
        assert_eq!(c.deadline(&conn), Some(10_700));
        conn.active.store(1, Ordering::Release);
        assert_eq!(c.deadline(&conn), None);
    }

    #[test]
    fn the_cap_stays_under_the_open_file_limit() {
        let settings = LimitSettings {
            max_connections: 4096,
            ..LimitSettings::default()
        };
        assert_eq!(
            ConnectionLimits::from_settings(&settings, Some(512)).max_connections,
            384
        );
        assert_eq!(
            ConnectionLimits::from_settings(&settings, Some(1 << 20)).max_connections,
            4096
        );
    }
}
