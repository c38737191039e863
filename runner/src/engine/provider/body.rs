//! Streamed bodies between Workfront and a provider, never held whole: a
//! download's bytes go from the guest's `output-stream` through a bounded
//! channel into the HTTP response, an upload's from the HTTP request through
//! a bounded channel into the guest's `input-stream`. Each channel holds at
//! most [`CHANNEL_CHUNKS`] chunks of [`CHUNK_BYTES`], so a transfer of any
//! size holds about a MiB in the server, and a reader (or writer) that
//! stalls stalls the guest, which its deadline then stops.

use super::call::Content;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::PollSender;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

/// Largest chunk the guest may write at once, and the unit of the channels.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks a channel holds.
pub const CHANNEL_CHUNKS: usize = 16;

/// One invocation's streamed body, handed to the engine with the request.
#[derive(Clone, Default)]
pub struct BodyChannel(Arc<std::sync::Mutex<Option<Body>>>);

impl std::fmt::Debug for BodyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyChannel")
    }
}

/// The engine's end of a streamed body.
pub enum Body {
    /// Where a download's bytes go.
    Download(DownloadSink),
    /// Where an upload's bytes come from.
    Upload(UploadSource),
}

impl BodyChannel {
    /// A channel carrying `body`.
    pub fn new(body: Body) -> Self {
        Self(Arc::new(std::sync::Mutex::new(Some(body))))
    }

    /// The body, once.
    pub fn take(&self) -> Option<Body> {
        self.0.lock().expect("body channel").take()
    }
}

/// What the transfer counted, for the pipeline's accounting.
#[derive(Debug, Default)]
pub struct Transferred {
    bytes: AtomicU64,
    complete: AtomicBool,
}

impl Transferred {
    /// Bytes that went through.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// The engine's end of a download: says what the file is once, then takes
/// its bytes.
pub struct DownloadSink {
    head: Option<oneshot::Sender<Content>>,
    chunks: mpsc::Sender<Bytes>,
    limit: u64,
    transferred: Arc<Transferred>,
}

/// The HTTP side of a download.
pub struct DownloadResponse {
    /// What the file is, sent when the provider's `open` succeeded; dropped
    /// unsent when it failed.
    pub head: oneshot::Receiver<Content>,
    /// The bytes.
    pub body: DownloadBody,
    /// What went through, once the body ended.
    pub transferred: Arc<Transferred>,
}

/// A download's bytes as a stream for the HTTP response. It ends cleanly only
/// when the provider finished writing; when the guest failed, was stopped or
/// went over a limit, it ends with an error, so the client sees a cut-off
/// transfer rather than a short file.
pub struct DownloadBody {
    chunks: mpsc::Receiver<Bytes>,
    transferred: Arc<Transferred>,
}

/// A download channel allowing `limit` bytes.
pub fn download(limit: u64) -> (DownloadSink, DownloadResponse) {
    let (head_tx, head_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let transferred = Arc::new(Transferred::default());
    let sink = DownloadSink {
        head: Some(head_tx),
        chunks: tx,
        limit,
        transferred: transferred.clone(),
    };
    let response = DownloadResponse {
        head: head_rx,
        body: DownloadBody {
            chunks: rx,
            transferred: transferred.clone(),
        },
        transferred,
    };
    (sink, response)
}

impl DownloadSink {
    /// Sends the head; the response starts.
    pub fn start(&mut self, content: Content) {
        if let Some(head) = self.head.take() {
            let _ = head.send(content);
        }
    }

    /// The `output-stream` the guest writes the bytes to.
    pub fn stream(&self) -> SinkStream {
        SinkStream {
            chunks: PollSender::new(self.chunks.clone()),
            reserved: false,
            limit: self.limit,
            transferred: self.transferred.clone(),
            failed: None,
        }
    }

    /// Bytes written so far.
    pub fn sent(&self) -> u64 {
        self.transferred.bytes()
    }

    /// Marks the body complete: the response ends cleanly.
    pub fn finish(&self) {
        self.transferred.complete.store(true, Ordering::Release);
    }
}

/// A guest's `output-stream` into a download.
pub struct SinkStream {
    chunks: PollSender<Bytes>,
    /// A channel slot is reserved: the next write may go.
    reserved: bool,
    limit: u64,
    transferred: Arc<Transferred>,
    failed: Option<String>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for SinkStream {
    async fn ready(&mut self) {
        if self.reserved || self.failed.is_some() {
            return;
        }
        match std::future::poll_fn(|cx| self.chunks.poll_reserve(cx)).await {
            Ok(()) => self.reserved = true,
            Err(_) => self.failed = Some("the client stopped reading".into()),
        }
    }
}

impl OutputStream for SinkStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if let Some(why) = &self.failed {
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "{why}"
            )));
        }
        if !self.reserved || bytes.len() > CHUNK_BYTES {
            return Err(StreamError::trap(
                "wrote more than check-write allowed on a download stream",
            ));
        }
        let total = self.transferred.bytes() + bytes.len() as u64;
        if total > self.limit {
            self.failed = Some(format!(
                "the download is over its limit of {} bytes",
                self.limit
            ));
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "the download is over its limit of {} bytes",
                self.limit
            )));
        }
        self.reserved = false;
        if self.chunks.send_item(bytes.clone()).is_err() {
            self.failed = Some("the client stopped reading".into());
            return Err(StreamError::Closed);
        }
        self.transferred
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        if let Some(why) = &self.failed {
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "{why}"
            )));
        }
        if self.chunks.is_closed() {
            return Err(StreamError::Closed);
        }
        Ok(if self.reserved { CHUNK_BYTES } else { 0 })
    }
}

impl futures_util::Stream for DownloadBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        match self.chunks.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => Poll::Ready(Some(Ok(bytes))),
            Poll::Ready(None) if self.transferred.complete.load(Ordering::Acquire) => {
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                // Once: the next poll ends the stream.
                self.transferred.complete.store(true, Ordering::Release);
                Poll::Ready(Some(Err(std::io::Error::other(
                    "the provider did not finish the download",
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The engine's end of an upload: the `input-stream` the guest reads.
pub struct UploadSource {
    chunks: mpsc::Receiver<Result<Bytes, String>>,
    buffered: Bytes,
    failed: Option<String>,
    closed: bool,
}

/// The HTTP side of an upload: the request body's chunks go in here.
pub type UploadFeed = mpsc::Sender<Result<Bytes, String>>;

/// An upload channel.
pub fn upload() -> (UploadFeed, UploadSource) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let source = UploadSource {
        chunks: rx,
        buffered: Bytes::new(),
        failed: None,
        closed: false,
    };
    (tx, source)
}

impl UploadSource {
    fn take_received(&mut self, received: Option<Result<Bytes, String>>) {
        match received {
            Some(Ok(bytes)) => self.buffered = bytes,
            Some(Err(why)) => self.failed = Some(why),
            None => self.closed = true,
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for UploadSource {
    async fn ready(&mut self) {
        if !self.buffered.is_empty() || self.failed.is_some() || self.closed {
            return;
        }
        let received = self.chunks.recv().await;
        self.take_received(received);
    }
}

impl InputStream for UploadSource {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.buffered.is_empty() && self.failed.is_none() && !self.closed {
            match self.chunks.try_recv() {
                Ok(received) => self.take_received(Some(received)),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(Bytes::new()),
                Err(mpsc::error::TryRecvError::Disconnected) => self.closed = true,
            }
        }
        if !self.buffered.is_empty() {
            let n = size.min(self.buffered.len());
            return Ok(self.buffered.split_to(n));
        }
        if let Some(why) = &self.failed {
            return Err(StreamError::LastOperationFailed(wasmtime::format_err!(
                "{why}"
            )));
        }
        Err(StreamError::Closed)
    }
}
