//! A component's answer text, measured before the host copies it.
//!
//! Lifting a `string` result copies it out of guest memory, so checking its
//! length afterwards lets one invocation make the host allocate as much as
//! its linear memory holds (eight concurrent 100 MiB answers took the server
//! to 948 MB). [`BoundedText`] reads the string's length from the canonical
//! ABI's pointer/length pair first and refuses it with [`LimitHit::Output`]
//! while the bytes are still in the guest. Reading the answer after the call
//! instead (as a `WasmStr`) is not possible: wasmtime runs the export's
//! post-return function, which may free the string, before the call returns.
//!
//! The limit reaches the lift through a thread-local set around every poll of
//! the call ([`WithOutputLimit`]): the lift runs inside that poll, on its
//! thread. This uses wasmtime's `Lift` internals (`__internal`, pinned with
//! wasmtime 48.0.x); `#[derive(Lift)]` builds on the same items.

use super::limiter::LimitHit;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime::ValRaw;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};

thread_local! {
    /// The output limit of the invocation being polled on this thread.
    static OUTPUT_LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The high bit of a compact-UTF-16 string length tags it as UTF-16.
const UTF16_TAG: u32 = 1 << 31;

/// A string from the guest that was no longer than the output limit.
pub(crate) struct BoundedText(pub(crate) String);

fn within_limit(len: u32) -> wasmtime::Result<()> {
    let units = (len & !UTF16_TAG) as usize;
    if units > OUTPUT_LIMIT.with(Cell::get) {
        return Err(wasmtime::Error::new(LimitHit::Output));
    }
    Ok(())
}

// SAFETY: every item delegates to `String`'s implementation, whose layout and
// type check `BoundedText` shares.
#[allow(unsafe_code)]
unsafe impl ComponentType for BoundedText {
    type Lower = <String as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <String as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <String as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: as above; the length check only refuses, it never changes how the
// pointer/length pair is read.
#[allow(unsafe_code)]
unsafe impl Lift for BoundedText {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        let pair: &[ValRaw; 2] = src;
        within_limit(pair[1].get_u32())?;
        String::linear_lift_from_flat(cx, ty, src).map(Self)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let len = bytes
            .get(4..8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(u32::MAX, u32::from_le_bytes);
        within_limit(len)?;
        String::linear_lift_from_memory(cx, ty, bytes).map(Self)
    }
}

/// Polls `inner` with `limit` as the output limit [`BoundedText`] enforces.
pub(crate) struct WithOutputLimit<F> {
    limit: usize,
    inner: Pin<Box<F>>,
}

impl<F> WithOutputLimit<F> {
    pub(crate) fn new(limit: usize, inner: F) -> Self {
        Self {
            limit,
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for WithOutputLimit<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let outer = OUTPUT_LIMIT.with(|limit| limit.replace(this.limit));
        let polled = this.inner.as_mut().poll(cx);
        OUTPUT_LIMIT.with(|limit| limit.set(outer));
        polled
    }
}
