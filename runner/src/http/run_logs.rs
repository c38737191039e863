//! Run logs a tenant can see: its invocation records listed with filters and
//! cursor paging, one by id, and a live stream of new ones (server-sent
//! events). The stream polls the store rather than listening to this
//! process's invocations, so on PostgreSQL it sees every replica's.

use super::admin_error::AdminError;
use super::api_types::InvocationJson;
use super::auth::TenantAdmin;
use crate::app::{App, Holder, TenantLease};
use crate::names::{ActionName, TenantName};
use crate::registry::{InvocationQuery, StoreError, TenantId};
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
const MAX_LIMIT: u32 = 1000;
/// How often a stream asks the store for new records.
const STREAM_POLL: Duration = Duration::from_millis(250);
/// Records a stream takes from the store per poll.
const STREAM_BATCH: u32 = 200;
/// How often an idle stream sends a comment, so proxies keep it open.
const STREAM_KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Streams one tenant may have open at once (each polls the store).
pub const STREAMS_PER_TENANT: usize = 4;

/// The query of the list and stream routes, as sent: each value is checked
/// here, so a bad one is answered naming its parameter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunLogQuery {
    action: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    request_id: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

fn bad(parameter: &str, why: impl std::fmt::Display) -> AdminError {
    AdminError::BadRequest(format!("invalid {parameter}: {why}"))
}

impl RunLogQuery {
    /// The filters only (action and outcome), as the stream takes them.
    fn filters(&self) -> Result<InvocationQuery, AdminError> {
        if let Some(action) = &self.action {
            ActionName::new(action.as_str()).map_err(|e| bad("action", e))?;
        }
        if let Some(outcome) = &self.outcome
            && !crate::metrics::OUTCOMES.contains(&outcome.as_str())
        {
            let known = crate::metrics::OUTCOMES.join(", ");
            return Err(bad("outcome", format!("{outcome:?} is not one of {known}")));
        }
        Ok(InvocationQuery {
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            ..InvocationQuery::default()
        })
    }

    /// Every parameter, checked.
    fn parse(&self) -> Result<InvocationQuery, AdminError> {
        let time = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| parse_rfc3339_ms(v).ok_or_else(|| bad(name, "not an RFC 3339 timestamp")))
                .transpose()
        };
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| bad("limit", format!("must be 1 to {MAX_LIMIT}")))?,
        };
        let before = self
            .before
            .as_deref()
            .map(|text| parse_id(text).ok_or_else(|| bad("before", "not the id of an invocation")))
            .transpose()?;
        if self.request_id.as_ref().is_some_and(|r| r.len() > 200) {
            return Err(bad("requestId", "longer than 200 characters"));
        }
        Ok(InvocationQuery {
            since_ms: time("since", &self.since)?,
            until_ms: time("until", &self.until)?,
            request_id: self.request_id.clone(),
            before,
            limit,
            ..self.filters()?
        })
    }
}

/// A record id as the API shows it (its decimal form).
fn parse_id(text: &str) -> Option<i64> {
    text.parse().ok().filter(|id| *id > 0)
}

type QueryResult = Result<Query<RunLogQuery>, axum::extract::rejection::QueryRejection>;

/// `GET /admin/v1/tenants/{tenant}/invocations`: newest first, filtered,
/// `next` the cursor of the following page (absent on the last).
pub async fn list(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
    query: QueryResult,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let mut query = query.parse()?;
    query.tenant_id = Some(found.id.to_string());
    let limit = query.limit as usize;
    // One more than asked says whether another page follows.
    query.limit += 1;
    let mut records = app.store.list_invocations(&found.name, &query).await?;
    let next = (records.len() > limit).then(|| {
        records.truncate(limit);
        records.last().map(|r| r.id.to_string())
    });
    let invocations: Vec<InvocationJson> = records.into_iter().map(Into::into).collect();
    let mut body = json!({ "invocations": invocations });
    if let Some(Some(next)) = next {
        body["next"] = json!(next);
    }
    Ok(Json(body).into_response())
}

/// `GET /admin/v1/tenants/{tenant}/invocations/{id}`: 404 unless the
/// record is the tenant's and still kept.
pub async fn get(
    State(app): State<Arc<App>>,
    Path((_, id)): Path<(String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> Result<Response, AdminError> {
    let missing = || AdminError::NotFound(format!("no invocation {id:?}"));
    let number = parse_id(&id).ok_or_else(missing)?;
    let record = app
        .store
        .invocation(&found.name, number)
        .await?
        .ok_or_else(missing)?;
    Ok(Json(InvocationJson::from(record)).into_response())
}

/// Open streams per tenant (by immutable id), shared by the router's stream route.
#[derive(Debug, Default)]
pub struct StreamSlots(Mutex<HashMap<TenantId, usize>>);

/// One tenant's open stream; its slot is given back when the stream is
/// dropped, which is when the client disconnects.
struct StreamSlot {
    slots: Arc<StreamSlots>,
    tenant: TenantId,
}

impl StreamSlots {
    fn take(self: &Arc<Self>, tenant: &TenantId) -> Result<StreamSlot, AdminError> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(tenant.clone()).or_default();
        if *count >= STREAMS_PER_TENANT {
            return Err(AdminError::TooManyRequests(format!(
                "at most {STREAMS_PER_TENANT} run log streams per tenant are open at once"
            )));
        }
        *count += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            tenant: tenant.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.tenant) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

/// What a stream carries from one poll to the next.
struct Follow {
    app: Arc<App>,
    /// Its filters, restricted to the tenant incarnation it was opened for.
    query: InvocationQuery,
    tenant: TenantName,
    pending: VecDeque<crate::registry::InvocationRecord>,
    polled: bool,
    /// Revoked when the tenant is deleted (or made again), suspended, or
    /// the admin token the stream was opened with is rotated away.
    lease: TenantLease,
    _slot: StreamSlot,
}

impl Follow {
    /// The next record, polling the store until there is one; `None` ends
    /// the stream (its lease was revoked, or the server is shutting down).
    async fn next(&mut self) -> Option<crate::registry::InvocationRecord> {
        loop {
            if self.lease.is_revoked() {
                return None;
            }
            if let Some(record) = self.pending.pop_front() {
                self.query.after = Some(record.id);
                return Some(record);
            }
            if self.polled {
                tokio::select! {
                    () = tokio::time::sleep(STREAM_POLL) => {}
                    () = self.lease.revoked() => return None,
                }
            }
            self.polled = true;
            if self.app.shutting_down() || self.lease.is_revoked() {
                return None;
            }
            // Raced against the lease, so a stalled database cannot keep a
            // revoked stream open.
            let polled = tokio::select! {
                polled = self.app.store.list_invocations(&self.tenant, &self.query) => polled,
                () = self.lease.revoked() => return None,
            };
            match polled {
                Ok(records) => self.pending.extend(records),
                Err(StoreError::UnknownTenant(_)) => return None,
                // A passing database failure: try again at the next poll.
                Err(err) => tracing::debug!(error = %err, "run log stream poll failed"),
            }
        }
    }
}

/// `GET /admin/v1/tenants/{tenant}/invocations/stream`: each new record as
/// one event, its id the record's, from the one after `Last-Event-ID` if
/// sent (else from now on). Filtered by `action` and `outcome`.
pub async fn stream(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
    Extension(holder): Extension<Holder>,
    Extension(slots): Extension<Arc<StreamSlots>>,
    headers: HeaderMap,
    query: QueryResult,
) -> Result<Response, AdminError> {
    let Query(query) = query.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let mut query = query.filters()?;
    query.limit = STREAM_BATCH;
    query.tenant_id = Some(found.id.to_string());
    let lease = app.lease(&found, holder);
    let resume = headers.get("last-event-id").map(|value| {
        value
            .to_str()
            .ok()
            .and_then(parse_id)
            .ok_or_else(|| bad("Last-Event-ID", "not the id of an invocation"))
    });
    let after = match resume {
        Some(id) => id?,
        None => {
            let newest = InvocationQuery {
                limit: 1,
                ..InvocationQuery::default()
            };
            let records = app.store.list_invocations(&found.name, &newest).await?;
            records.first().map_or(0, |r| r.id)
        }
    };
    query.after = Some(after);
    let follow = Follow {
        _slot: slots.take(&found.id)?,
        lease,
        app,
        query,
        tenant: found.name.clone(),
        pending: VecDeque::new(),
        polled: false,
    };
    let events = futures_util::stream::unfold(follow, |mut follow| async move {
        let record = follow.next().await?;
        let id = record.id.to_string();
        let event = Event::default()
            .id(id)
            .json_data(InvocationJson::from(record));
        Some((event, follow))
    });
    let keep_alive = KeepAlive::new().interval(STREAM_KEEP_ALIVE);
    Ok(Sse::new(events).keep_alive(keep_alive).into_response())
}

/// Milliseconds since the epoch of an RFC 3339 timestamp
/// (`2026-11-27T17:00:00Z`, `…T17:00:00.250+01:00`); `None` if malformed.
fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[(month - 1) as usize]
        && hour < 24
        && minute < 60
        && second < 61;
    if !valid {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if at(i, b".") {
        i += 1;
        let start = i;
        while at(i, b"0123456789") {
            i += 1;
        }
        if i == start {
            return None;
        }
        let fraction = format!("{:0<3}", &text[start..i.min(start + 3)]);
        millis = fraction.parse::<i64>().ok()?;
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && at(i + 3, b":") => {
            let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    // days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339_ms;

    #[test]
    fn rfc3339_timestamps_parse_with_offsets_and_fractions() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-27T17:00:00.25Z"),
            Some(1_795_798_800_250)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-27T18:00:00+01:00"),
            parse_rfc3339_ms("2026-11-27T17:00:00Z")
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31t23:59:59.999z"), Some(-1));
        for bad in [
            "",
            "2026-11-27",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-27T17:00:00",
            "2026-11-27T17:00:00+0100",
            "2026-11-27T17:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
