//! `GET /admin/v1/tenants/{tenant}/invocations/summary` and, for the
//! operator, `GET /admin/v1/invocations/summary`: invocations, failures and
//! p50/p99 latency per time bucket, from the invocation log, for the
//! console's charts.

use super::admin_error::AdminError;
use super::auth::{Operator, TenantAdmin};
use crate::app::App;
use crate::names::TenantName;
use crate::registry::{InvocationSample, now_ms, rfc3339};
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Most records one summary reads, the newest; past it the answer says
/// `truncated` and the oldest buckets undercount.
const MAX_SAMPLES: u32 = 100_000;
/// The longest period a summary covers (a week), in minutes.
const MAX_MINUTES: u32 = 7 * 24 * 60;
/// The most buckets a summary is cut into.
const MAX_BUCKETS: u32 = 240;

/// The summary's query, as sent: checked here so a bad value is named.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    minutes: Option<String>,
    buckets: Option<String>,
}

type QueryResult = Result<Query<SummaryQuery>, axum::extract::rejection::QueryRejection>;

/// One tenant's summary.
pub async fn tenant(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
    query: QueryResult,
) -> Result<Json<Value>, AdminError> {
    summary(&app, Some(&found.name), query).await
}

/// Every tenant's calls together: the operator's server-wide view.
pub async fn server(
    State(app): State<Arc<App>>,
    _operator: Operator,
    query: QueryResult,
) -> Result<Json<Value>, AdminError> {
    summary(&app, None, query).await
}

async fn summary(
    app: &App,
    tenant: Option<&TenantName>,
    query: QueryResult,
) -> Result<Json<Value>, AdminError> {
    let Query(query) = query.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let minutes = bounded("minutes", query.minutes.as_deref(), 60, MAX_MINUTES)?;
    let buckets = bounded("buckets", query.buckets.as_deref(), 30, MAX_BUCKETS)?;
    let bucket_ms = i64::from(minutes) * 60_000 / i64::from(buckets);
    // Buckets end now, so the newest one is the one filling up.
    let since_ms = now_ms() - bucket_ms * i64::from(buckets);
    let samples = app
        .store
        .invocation_samples(tenant, since_ms, MAX_SAMPLES)
        .await?;
    let truncated = samples.len() as u32 >= MAX_SAMPLES;
    let buckets = bucketed(&samples, since_ms, bucket_ms, buckets as usize)
        .into_iter()
        .map(|b| {
            json!({
                "start": rfc3339(b.start_ms),
                "invocations": b.invocations,
                "failures": b.failures,
                "p50Ms": b.p50_ms,
                "p99Ms": b.p99_ms,
            })
        })
        .collect::<Vec<_>>();
    Ok(Json(json!({
        "since": rfc3339(since_ms),
        "bucketSeconds": bucket_ms / 1000,
        "truncated": truncated,
        "buckets": buckets,
    })))
}

fn bounded(name: &str, text: Option<&str>, default: u32, max: u32) -> Result<u32, AdminError> {
    match text {
        None => Ok(default),
        Some(text) => text
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| AdminError::BadRequest(format!("invalid {name}: must be 1 to {max}"))),
    }
}

/// One bucket of a summary.
#[derive(Debug, PartialEq, Eq)]
struct Bucket {
    start_ms: i64,
    invocations: u64,
    failures: u64,
    p50_ms: Option<u64>,
    p99_ms: Option<u64>,
}

/// Cuts samples into `count` buckets of `bucket_ms` from `since_ms`;
/// samples outside them are left out.
fn bucketed(
    samples: &[InvocationSample],
    since_ms: i64,
    bucket_ms: i64,
    count: usize,
) -> Vec<Bucket> {
    let mut durations: Vec<Vec<u64>> = vec![Vec::new(); count];
    let mut failures = vec![0u64; count];
    for sample in samples {
        let offset = sample.at_ms - since_ms;
        if offset < 0 || bucket_ms <= 0 {
            continue;
        }
        let Some(slot) = usize::try_from(offset / bucket_ms)
            .ok()
            .filter(|i| *i < count)
        else {
            continue;
        };
        durations[slot].push(sample.duration_ms);
        failures[slot] += u64::from(!sample.success);
    }
    durations
        .into_iter()
        .zip(failures)
        .enumerate()
        .map(|(i, (mut ms, failures))| {
            ms.sort_unstable();
            Bucket {
                start_ms: since_ms + bucket_ms * i as i64,
                invocations: ms.len() as u64,
                failures,
                p50_ms: percentile(&ms, 50),
                p99_ms: percentile(&ms, 99),
            }
        })
        .collect()
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: i64, duration_ms: u64, success: bool) -> InvocationSample {
        InvocationSample {
            at_ms,
            duration_ms,
            success,
        }
    }

    #[test]
    fn samples_fall_in_their_bucket_with_failures_and_percentiles() {
        let mut samples: Vec<_> = (1..=100)
            .map(|ms| sample(1_000 + ms as i64, ms, true))
            .collect();
        samples.push(sample(2_500, 7, false));
        samples.push(sample(999, 1, true)); // before the first bucket
        samples.push(sample(4_000, 1, true)); // after the last
        let buckets = bucketed(&samples, 1_000, 1_000, 3);
        assert_eq!(buckets[0].invocations, 100);
        assert_eq!((buckets[0].p50_ms, buckets[0].p99_ms), (Some(50), Some(99)));
        assert_eq!(buckets[0].failures, 0);
        assert_eq!((buckets[1].invocations, buckets[1].failures), (1, 1));
        assert_eq!(buckets[1].p99_ms, Some(7));
        assert_eq!(
            buckets[2],
            Bucket {
                start_ms: 3_000,
                invocations: 0,
                failures: 0,
                p50_ms: None,
                p99_ms: None
            }
        );
    }

    #[test]
    fn percentile_of_one_value_is_that_value() {
        assert_eq!(percentile(&[42], 50), Some(42));
        assert_eq!(percentile(&[42], 99), Some(42));
        assert_eq!(percentile(&[], 99), None);
    }
}
