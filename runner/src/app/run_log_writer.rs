//! The invocation log's writer: records leave the request path through a
//! bounded queue and are written in batches by one task, and kept while the
//! database is unreachable. The same task prunes records past the operator's
//! maximum age (`--invocation-max-age-days`).

use crate::registry::{NewInvocation, Storage, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};
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

/// The longest pause between two prunes by age: a minute of records past
/// the age is no matter, and the delete runs across every tenant.
const MOST_BETWEEN_PRUNES: Duration = Duration::from_secs(60);

/// What the invocation log writer receives.
#[allow(
    clippy::large_enum_variant,
    reason = "a record is the common message; boxing it would cost an allocation per invocation"
)]
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
/// Records older than `max_age` are deleted, every tenant's, at most a tenth
/// of `max_age` (and a minute) after they pass it, busy or idle.
pub(super) async fn write_invocations(
    store: Arc<dyn Storage>,
    mut receiver: mpsc::Receiver<LogMessage>,
    max_age: Duration,
) {
    let mut messages = Vec::with_capacity(INVOCATION_BATCH);
    let mut records = Vec::with_capacity(INVOCATION_BATCH);
    let prune_every = (max_age / 10).clamp(Duration::from_millis(100), MOST_BETWEEN_PRUNES);
    let mut pruned: Option<Instant> = None;
    loop {
        // Waits for records, but wakes to retry kept records (the database
        // was unreachable) and to prune, even if nothing new comes.
        let wait = if records.is_empty() {
            prune_every
        } else {
            UNAVAILABLE_RETRY.min(prune_every)
        };
        let next = receiver.recv_many(&mut messages, INVOCATION_BATCH);
        let received = tokio::time::timeout(wait, next).await.unwrap_or(usize::MAX);
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
        // Not while records wait for an unreachable database: it would only
        // hold up their retry.
        if records.is_empty() && pruned.is_none_or(|at| at.elapsed() >= prune_every) {
            pruned = Some(Instant::now());
            prune(&*store, max_age).await;
        }
        tokio::time::sleep(INVOCATION_FLUSH_PAUSE).await;
    }
}

/// Deletes every record older than `max_age`; a failure waits for the next prune.
async fn prune(store: &dyn Storage, max_age: Duration) {
    let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    let cutoff = crate::registry::store::now_ms().saturating_sub(max_age_ms);
    match store.prune_invocations(cutoff).await {
        Ok(0) => {}
        Ok(deleted) => tracing::debug!(deleted, "invocation records past the maximum age pruned"),
        Err(err) => tracing::warn!(error = %err, "could not prune the invocation log by age"),
    }
}
