//! The invocation log's writer: records leave the request path through a
//! bounded queue and are written in batches by one task, and kept while the
//! database is unreachable.

use crate::registry::{NewInvocation, Storage, StoreError};
use std::sync::Arc;
use tokio::sync::mpsc;

/// How many invocation records may wait for the log writer before new ones are dropped.
pub(super) const INVOCATION_QUEUE: usize = 16_384;
/// How long the log writer waits after a write before taking the next batch.
const INVOCATION_FLUSH_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
/// How many records the writer puts in one transaction.
const INVOCATION_BATCH: usize = 4096;
/// Records kept for the log while the database is unreachable; the oldest go first.
const KEPT_WHILE_UNAVAILABLE: usize = 65_536;
/// How often kept records are retried while the database is unreachable.
const UNAVAILABLE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What the invocation log writer receives.
pub(super) enum LogMessage {
    /// A record to write.
    Record(NewInvocation),
    /// Write everything received so far, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Writes the invocation log in batches. After each write it pauses briefly, so
/// that under load one transaction (one fsync) carries many records instead of
/// one each; the queue holds far more than a pause's worth of invocations.
/// While the database is unreachable (replicas on PostgreSQL), records are
/// kept, up to [`KEPT_WHILE_UNAVAILABLE`], and written once it is back.
pub(super) async fn write_invocations(
    store: Arc<dyn Storage>,
    mut receiver: mpsc::Receiver<LogMessage>,
) {
    let mut messages = Vec::with_capacity(INVOCATION_BATCH);
    let mut records = Vec::with_capacity(INVOCATION_BATCH);
    loop {
        let received = if records.is_empty() {
            receiver.recv_many(&mut messages, INVOCATION_BATCH).await
        } else {
            // Records are waiting for the database: retry even if nothing new comes.
            let next = receiver.recv_many(&mut messages, INVOCATION_BATCH);
            tokio::time::timeout(UNAVAILABLE_RETRY, next)
                .await
                .unwrap_or(usize::MAX)
        };
        if received == 0 {
            return;
        }
        let mut flushed = Vec::new();
        for message in messages.drain(..) {
            match message {
                LogMessage::Record(record) => records.push(record),
                LogMessage::Flush(done) => flushed.push(done),
            }
        }
        if !records.is_empty() {
            match store.record_invocations(&records).await {
                Ok(()) => records.clear(),
                Err(StoreError::Unavailable(err)) => {
                    let excess = records.len().saturating_sub(KEPT_WHILE_UNAVAILABLE);
                    records.drain(..excess);
                    tracing::warn!(error = %err, waiting = records.len(), dropped = excess, "invocation log waits for the database");
                }
                Err(err) => {
                    tracing::error!(error = %err, records = records.len(), "could not write the invocation log");
                    records.clear();
                }
            }
        }
        for done in flushed {
            let _ = done.send(());
        }
        tokio::time::sleep(INVOCATION_FLUSH_PAUSE).await;
    }
}
