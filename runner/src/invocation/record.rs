//! How an invocation is logged, recorded in the run log and counted:
//! the log line and record of one that finished ([`log_invocation`]), the
//! record of one whose caller went away ([`CancelledRecord`]), and the
//! outcome words both use.

use crate::app::App;
use crate::engine::{InvokeError, LimitHit, Outcome};
use crate::metrics::Series;
use crate::registry::store::NewInvocation;
use crate::registry::{ActionVersion, InvocationDetail, RecordedInput, Tenant, Timing};
use std::time::Duration;

/// How an invocation ended, for its log line and record.
pub(super) struct Finished {
    pub(super) outcome: &'static str,
    pub(super) limit: Option<String>,
    pub(super) ms: u64,
    pub(super) stderr_tail: Option<String>,
    pub(super) stderr: Option<String>,
    pub(super) detail: InvocationDetail,
}

/// Records an invocation whose caller went away (the handler's future was
/// dropped, which cancels the guest): outcome `cancelled`, with how long it
/// ran. Disarmed ([`CancelledRecord::finished`]) once the invocation finishes
/// and is logged as usual.
pub(super) struct CancelledRecord<'a> {
    pub(super) app: &'a App,
    pub(super) tenant: &'a Tenant,
    pub(super) action: &'a ActionVersion,
    pub(super) request_id: &'a str,
    pub(super) started_ms: i64,
    pub(super) started: std::time::Instant,
    /// How long the invocation waited after admission, for the metrics.
    pub(super) queued: std::time::Duration,
    pub(super) series: Series,
    /// What the action was asked, when the run log keeps it.
    pub(super) input: Option<RecordedInput>,
    /// Cleared once the invocation finished.
    pub(super) armed: bool,
}

impl CancelledRecord<'_> {
    /// The invocation finished and is recorded as usual: nothing to do on
    /// drop. Returns its metric labels, queue time and recorded input.
    pub(super) fn finished(mut self) -> (Series, std::time::Duration, Option<RecordedInput>) {
        self.armed = false;
        (self.series.clone(), self.queued, self.input.take())
    }
}

impl Drop for CancelledRecord<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let elapsed = self.started.elapsed();
        self.app
            .metrics
            .invoked(&self.series, "cancelled", None, elapsed, Some(self.queued));
        let ms = elapsed.as_millis() as u64;
        tracing::info!(
            tenant = %self.tenant.name,
            action = %self.action.name,
            version = self.action.version,
            request_id = self.request_id,
            outcome = "cancelled",
            ms,
            "invocation"
        );
        self.app.record(NewInvocation {
            tenant: self.tenant.name.to_string(),
            tenant_id: self.tenant.id.to_string(),
            action: self.action.name.to_string(),
            version: self.action.version,
            request_id: self.request_id.to_owned(),
            at_ms: self.started_ms,
            outcome: "cancelled",
            ms,
            limit_hit: None,
            stderr: None,
            detail: InvocationDetail {
                timing: Timing::of(self.queued, Duration::ZERO, elapsed),
                input: self.input.take(),
                ..InvocationDetail::default()
            },
        });
    }
}

/// Logs a finished invocation and hands its record to the run log.
pub(super) fn log_invocation(
    app: &App,
    tenant: &Tenant,
    action: &ActionVersion,
    request_id: &str,
    started_ms: i64,
    finished: Finished,
) {
    let Finished {
        outcome,
        limit,
        ms,
        stderr_tail,
        stderr,
        detail,
    } = finished;
    tracing::info!(
        tenant = %tenant.name,
        action = %action.name,
        version = action.version,
        request_id,
        outcome,
        limit = limit.as_deref().unwrap_or(""),
        ms,
        stderr = stderr_tail.as_deref().unwrap_or(""),
        "invocation"
    );
    app.record(NewInvocation {
        tenant: tenant.name.to_string(),
        tenant_id: tenant.id.to_string(),
        action: action.name.to_string(),
        version: action.version,
        request_id: request_id.to_owned(),
        at_ms: started_ms,
        outcome,
        ms,
        limit_hit: limit,
        stderr,
        detail,
    });
}

/// The invocation log's outcome word and the limit hit, if any.
pub(super) fn outcome_words(
    result: &Result<Outcome, InvokeError>,
) -> (&'static str, Option<&LimitHit>) {
    match result {
        Ok(Outcome::Success { .. } | Outcome::Provided(_)) => ("success", None),
        Ok(Outcome::Failure { .. }) => ("failure", None),
        Err(InvokeError::Limit(hit)) => ("limit", Some(hit)),
        Err(InvokeError::Trap(_)) => ("trap", None),
        Err(InvokeError::BadResponse(_)) => ("bad-response", None),
        Err(InvokeError::Busy) => ("busy", None),
        Err(InvokeError::Host(_)) => ("host-error", None),
    }
}

/// The metric's `kind` for a limit: the first word of what the log's
/// `limit_hit` says (`time limit` → `time`).
pub(super) fn limit_kind(hit: &LimitHit) -> &'static str {
    match hit {
        LimitHit::Timeout => "time",
        LimitHit::Memory => "memory",
        LimitHit::Table => "table",
        LimitHit::Fuel => "fuel",
        LimitHit::Output => "output",
        LimitHit::Stack => "stack",
    }
}
