//! Idle-eviction bookkeeping: which connections have sent nothing yet, in
//! accept order, so the oldest silent one can be closed at the cap; and the
//! socket wrapper that notes the first byte and bounds a stalled write.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Sleep;

/// What the accept loop knows of one open connection: whether the client has
/// sent a byte yet, and how to close it to make room at the cap.
#[derive(Default)]
pub(super) struct Tracked {
    pub(super) spoke: AtomicBool,
    pub(super) evict: Notify,
}

/// Connections in the order they were accepted, for closing the oldest one that
/// has sent nothing when the cap is reached (nginx does the like with idle
/// connections). Entries for closed or talking connections are dropped lazily.
#[derive(Default)]
pub(super) struct SilentQueue(Mutex<VecDeque<Weak<Tracked>>>);

impl SilentQueue {
    /// Remembers a new connection; compacts now and then so the queue stays
    /// about as long as the number of silent connections.
    pub(super) fn push(&self, tracked: &Arc<Tracked>, cap: usize) {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if queue.len() >= cap.saturating_mul(2).max(64) {
            queue.retain(|w| {
                w.upgrade()
                    .is_some_and(|t| !t.spoke.load(Ordering::Relaxed))
            });
        }
        queue.push_back(Arc::downgrade(tracked));
    }

    /// Tells the oldest connection that has sent nothing to close; false if
    /// there is none.
    pub(super) fn evict_oldest(&self) -> bool {
        let mut queue = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(entry) = queue.pop_front() {
            // Gone, or talking (never a candidate again): drop the entry.
            if let Some(tracked) = entry.upgrade()
                && !tracked.spoke.load(Ordering::Relaxed)
            {
                tracked.evict.notify_one();
                return true;
            }
        }
        false
    }
}

/// The connection's socket. Notes the client's first byte (so the connection
/// is no longer a candidate for eviction), and fails a write that makes no
/// progress for `limit`: a client that stops reading its response cannot hold
/// the connection (and its slot) forever. hyper's own timers bound reads.
pub(super) struct Guarded {
    stream: TcpStream,
    tracked: Arc<Tracked>,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    pub(super) fn new(stream: TcpStream, tracked: Arc<Tracked>, limit: Duration) -> Self {
        Self {
            stream,
            tracked,
            limit,
            stalled: None,
        }
    }

    /// Passes a ready result through (and clears the stall timer); on pending,
    /// starts or checks the timer.
    fn guard<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<R>>,
    ) -> Poll<std::io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.tracked.spoke.store(true, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.guard(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.guard(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.guard(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.guard(cx, polled)
    }
}
