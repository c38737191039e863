//! Turns on the CPU, so one tenant's computing guests cannot crowd out another's.
//!
//! Guests already yield to the async runtime at every epoch tick, so no guest
//! holds a thread for long. But the runtime serves ready tasks in turn: a
//! tenant with 32 computing invocations had 32 tasks in line for every one of
//! another tenant's, and that tenant's 1 ms action waited 80–480 ms.
//!
//! So each tenant has a [`CpuShare`], and a guest's future is polled only
//! while it holds one of the share's turns ([`TakingTurns`]). A turn lasts
//! one poll: it is given back whenever the guest stops to wait — at each
//! epoch tick, where a computing guest yields, and whenever it waits in the
//! host (a sleep, an outbound request) — and taken again, in line behind the
//! tenant's other waiting invocations, before the guest is polled once more.
//! At most `share` of a tenant's invocations are ready to run at any moment;
//! the rest wait without using CPU, and waiting in the host costs no turn.
//!
//! Waiting for a turn counts against the invocation's time limit: a tenant
//! that starts more computing work than its share can finish in time gets
//! time-limit errors on its own actions, and no one else notices.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// One tenant's share of the threads that run WebAssembly.
#[derive(Debug, Clone)]
pub struct CpuShare(Arc<Semaphore>);

impl CpuShare {
    /// A share letting `share` invocations run at once (at least one).
    pub fn new(share: usize) -> Self {
        Self(Arc::new(Semaphore::new(share.max(1))))
    }
}

type Acquiring = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

/// A guest's future, polled only while it holds a turn of its tenant's share
/// (or always, without a share). See the module docs.
pub(crate) struct TakingTurns<F> {
    share: Option<Arc<Semaphore>>,
    guest: Pin<Box<F>>,
    /// Our place in line for the next turn, kept across polls.
    waiting: Option<Acquiring>,
}

impl<F> TakingTurns<F> {
    pub(crate) fn new(share: Option<&CpuShare>, guest: F) -> Self {
        Self {
            share: share.map(|s| s.0.clone()),
            guest: Box::pin(guest),
            waiting: None,
        }
    }
}

impl<F: Future> Future for TakingTurns<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(share) = &this.share else {
            return this.guest.as_mut().poll(cx);
        };
        let waiting = this
            .waiting
            .get_or_insert_with(|| Box::pin(share.clone().acquire_owned()));
        let turn = match waiting.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(turn) => turn,
        };
        this.waiting = None;
        let polled = this.guest.as_mut().poll(cx);
        // Whether the guest finished or stopped to wait, the turn goes to the
        // next in line now.
        drop(turn);
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A guest that computes in `slices` steps, yielding between them, and
    /// counts how many guests of the share are mid-step at once.
    async fn computing(slices: usize, running: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) {
        for _ in 0..slices {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1));
            running.fetch_sub(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
        }
    }

    /// With a share of two, at most two of a tenant's computing guests run at
    /// once, however many there are, and all of them finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_the_share_computes_at_once() {
        let share = CpuShare::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let guests: Vec<_> = (0..8)
            .map(|_| {
                let guest = computing(10, running.clone(), peak.clone());
                tokio::spawn(TakingTurns::new(Some(&share), guest))
            })
            .collect();
        for guest in guests {
            guest.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    /// A guest waiting in the host holds no turn: with a share of one, a
    /// computing guest runs while another sleeps.
    #[tokio::test]
    async fn waiting_in_the_host_costs_no_turn() {
        let share = CpuShare::new(1);
        let sleeper = tokio::spawn(TakingTurns::new(
            Some(&share),
            tokio::time::sleep(Duration::from_secs(5)),
        ));
        tokio::task::yield_now().await;
        let quick = TakingTurns::new(Some(&share), async { 42 });
        let answer = tokio::time::timeout(Duration::from_millis(500), quick).await;
        assert_eq!(answer.ok(), Some(42), "the sleeper held the only turn");
        sleeper.abort();
    }
}
