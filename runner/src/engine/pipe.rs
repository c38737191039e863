//! Bounded in-memory stdio for guests.
//!
//! wasmtime-wasi's `MemoryOutputPipe` traps with an untyped error when full. Docket
//! needs to tell "the action wrote too much" apart from other traps, and to keep
//! the *last* line of stderr (the command ABI's failure message) even when a chatty
//! guest overflowed the head of the buffer. So this pipe records what happened.

use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::limiter::LimitHit;

/// How many trailing bytes are kept apart from the head, so the end of the
/// output (a Rust panic, the last line) survives a chatty guest.
const TAIL_BYTES: usize = 4096;
/// How much of the head goes into the invocation log's excerpt.
const EXCERPT_HEAD_BYTES: usize = 4096;

/// What a pipe does once its capacity is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Trap the guest with [`LimitHit::Output`]: the response channel, where a
    /// truncated answer would be a wrong answer.
    Trap,
    /// Drop further bytes but keep a rolling tail: the log channel.
    Truncate,
}

#[derive(Debug)]
struct State {
    head: Vec<u8>,
    tail: Vec<u8>,
    capacity: usize,
    overflow: Overflow,
    overflowed: bool,
    /// Bytes written in all, kept or not.
    written: usize,
}

/// A bounded stdout/stderr for one invocation. Clones share the same buffer.
#[derive(Debug, Clone)]
pub struct BoundedPipe {
    state: Arc<Mutex<State>>,
}

impl BoundedPipe {
    /// A pipe holding at most `capacity` bytes, behaving as `overflow` says beyond.
    pub fn new(capacity: usize, overflow: Overflow) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                head: Vec::new(),
                tail: Vec::new(),
                capacity,
                overflow,
                overflowed: false,
                written: 0,
            })),
        }
    }

    /// Everything kept (up to the capacity).
    pub fn contents(&self) -> Vec<u8> {
        self.lock().head.clone()
    }

    /// Whether the guest tried to write past the capacity.
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// The last non-empty line written, even if the head buffer overflowed.
    pub fn last_line(&self) -> Option<String> {
        let state = self.lock();
        String::from_utf8_lossy(&state.tail)
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .map(str::to_owned)
    }

    /// Everything kept, for reading the guest's own words: the head, and past
    /// the capacity the tail too.
    pub fn text(&self) -> String {
        let state = self.lock();
        let mut text = String::from_utf8_lossy(&state.head).into_owned();
        if state.overflowed {
            text.push('\n');
            text.push_str(&String::from_utf8_lossy(&state.tail));
        }
        text
    }

    /// A bounded excerpt for the invocation log: all of it when short, else
    /// the first and the last 4 KiB with the number of bytes left out.
    pub fn excerpt(&self) -> Option<String> {
        let state = self.lock();
        if state.written == 0 {
            return None;
        }
        if state.written <= EXCERPT_HEAD_BYTES + TAIL_BYTES && !state.overflowed {
            return Some(String::from_utf8_lossy(&state.head).into_owned());
        }
        let head = &state.head[..state.head.len().min(EXCERPT_HEAD_BYTES)];
        let left_out = state.written.saturating_sub(head.len() + state.tail.len());
        Some(format!(
            "{}\n[… {left_out} bytes …]\n{}",
            String::from_utf8_lossy(head),
            String::from_utf8_lossy(&state.tail)
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-write; the bytes are still valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `bytes`, returning `false` when a trapping pipe refused part of them.
    fn append(&self, bytes: &[u8]) -> bool {
        let mut state = self.lock();
        state.written = state.written.saturating_add(bytes.len());
        let keep_from = bytes.len().saturating_sub(TAIL_BYTES);
        state.tail.extend_from_slice(&bytes[keep_from..]);
        let excess = state.tail.len().saturating_sub(TAIL_BYTES);
        state.tail.drain(..excess);

        let room = state.capacity.saturating_sub(state.head.len());
        let fits = bytes.len().min(room);
        state.head.extend_from_slice(&bytes[..fits]);
        if fits < bytes.len() {
            state.overflowed = true;
            return state.overflow == Overflow::Truncate;
        }
        true
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if self.append(&bytes) {
            Ok(())
        } else {
            Err(StreamError::Trap(wasmtime::Error::new(LimitHit::Output)))
        }
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Grant a generous permit even when full: the next write then reaches
        // `append`, which traps (stdout) or truncates (stderr) as configured.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for BoundedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.append(buf) {
            Poll::Ready(Ok(buf.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other(LimitHit::Output)))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

/// A guest's stderr that outlives one invocation: an instance kept for
/// reuse keeps the WASI context (and the stream handles its guest holds)
/// it was made with, so its writes go through this to the pipe of the
/// request it is answering now ([`Redirect::point_to`]), never to an
/// earlier request's.
#[derive(Debug, Clone)]
pub struct Redirect {
    current: Arc<Mutex<BoundedPipe>>,
}

impl Redirect {
    /// Writes go to `pipe` until pointed elsewhere.
    pub fn new(pipe: BoundedPipe) -> Self {
        Self {
            current: Arc::new(Mutex::new(pipe)),
        }
    }

    /// Sends every later write, from every clone, to `pipe`.
    pub fn point_to(&self, pipe: BoundedPipe) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = pipe;
    }

    fn pipe(&self) -> BoundedPipe {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Redirect {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.pipe().write(bytes)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        self.pipe().check_write()
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Redirect {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Redirect {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.pipe()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for Redirect {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Redirect {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trapping_pipe_refuses_bytes_past_capacity() {
        let pipe = BoundedPipe::new(4, Overflow::Trap);
        assert!(pipe.append(b"abcd"));
        assert!(!pipe.append(b"e"));
        assert!(pipe.overflowed());
        assert_eq!(pipe.contents(), b"abcd");
    }

    #[test]
    fn truncating_pipe_keeps_the_last_line() {
        let pipe = BoundedPipe::new(8, Overflow::Truncate);
        assert!(pipe.append(b"first line\n"));
        assert!(pipe.append(b"noise\nthe real reason\n"));
        assert!(pipe.overflowed());
        assert_eq!(pipe.contents(), b"first li");
        assert_eq!(pipe.last_line().as_deref(), Some("the real reason"));
    }

    #[test]
    fn the_excerpt_keeps_the_head_and_the_tail_of_long_output() {
        let pipe = BoundedPipe::new(16 * 1024, Overflow::Truncate);
        assert_eq!(pipe.excerpt(), None);
        pipe.append(b"short\n");
        assert_eq!(pipe.excerpt().as_deref(), Some("short\n"));
        let pipe = BoundedPipe::new(16 * 1024, Overflow::Truncate);
        pipe.append(b"start\n");
        pipe.append(&vec![b'x'; 20_000]);
        pipe.append(b"\nthe end\n");
        let excerpt = pipe.excerpt().unwrap();
        assert!(excerpt.starts_with("start\n"), "{excerpt:.20}");
        assert!(excerpt.ends_with("the end\n"));
        assert!(excerpt.contains("bytes …]"));
        assert!(excerpt.len() < 8 * 1024 + 64, "{}", excerpt.len());
        assert!(pipe.text().contains("the end"));
    }

    #[test]
    fn a_redirect_writes_to_the_pipe_it_points_to_now() {
        let (first, second) = (
            BoundedPipe::new(100, Overflow::Truncate),
            BoundedPipe::new(100, Overflow::Truncate),
        );
        let mut redirect = Redirect::new(first.clone());
        redirect.write(Bytes::from_static(b"one\n")).unwrap();
        redirect.clone().point_to(second.clone());
        redirect.write(Bytes::from_static(b"two\n")).unwrap();
        assert_eq!(first.contents(), b"one\n");
        assert_eq!(second.contents(), b"two\n");
    }

    #[test]
    fn last_line_without_overflow_skips_blank_lines() {
        let pipe = BoundedPipe::new(100, Overflow::Truncate);
        pipe.append(b"one\ntwo\n\n");
        assert_eq!(pipe.last_line().as_deref(), Some("two"));
    }
}
