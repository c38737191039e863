//! What the storage traits take and return: Docket's own records, the same
//! for every backend, plus the per-tenant limits every backend enforces. The
//! admin API's JSON shapes of them are in `http/api_types.rs`.

use super::Quotas;
use crate::capabilities::outbound::OutboundCall;
use crate::manifest::ActionManifest;
use crate::names::TenantName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The secrets of a new tenant, shown once.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// The tenant's name.
    pub name: TenantName,
    /// The tenant admin's bearer token.
    pub admin_token: String,
    /// The first webhook key, for Workfront's `apiKey` header.
    pub api_key: String,
}

/// A tenant as the operator lists it.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    /// The tenant's name.
    pub name: String,
    /// A human-friendly name.
    pub display_name: Option<String>,
    /// Whether the tenant is suspended.
    pub suspended: bool,
    /// Managed from `--manifests`.
    pub declarative: bool,
    /// The status word of failure responses.
    pub failure_word: String,
    /// Effective quotas.
    pub quotas: Quotas,
    /// How many actions it has.
    pub actions: u32,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A key or token as listed: never the secret, only a hint of its start.
#[derive(Debug, Clone)]
pub struct CredentialInfo {
    /// The id to revoke it by.
    pub id: String,
    /// The first characters of the secret, to tell keys apart.
    pub hint: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// An action as its tenant lists it.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// The action name.
    pub name: String,
    /// The display name of the live version.
    pub display_name: String,
    /// The live version.
    pub live_version: u32,
    /// How many versions are kept.
    pub versions: u32,
}

/// One version as listed.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// The version number.
    pub version: u32,
    /// The module's SHA-256.
    pub hash: String,
    /// The module's size in bytes.
    pub size: u64,
    /// `command` or `component`.
    pub abi: String,
    /// When it was deployed (RFC 3339).
    pub created_at: String,
    /// Whether it is the live version.
    pub live: bool,
}

/// An invocation to append to the log.
#[derive(Debug, Clone)]
pub struct NewInvocation {
    /// The tenant.
    pub tenant: String,
    /// The tenant's immutable id when it was invoked: the record is written
    /// only while the tenant of that name still has it, so a record of a
    /// deleted tenant never lands in a new tenant of the same name.
    pub tenant_id: String,
    /// The action.
    pub action: String,
    /// The version that ran.
    pub version: u32,
    /// Docket's request id.
    pub request_id: String,
    /// When it started, in milliseconds since the epoch.
    pub at_ms: i64,
    /// See [`InvocationRecord::outcome`].
    pub outcome: &'static str,
    /// Wall-clock duration.
    pub ms: u64,
    /// Which limit was hit, if any.
    pub limit_hit: Option<String>,
    /// The first and last 4 KiB of the action's stderr, when it wrote any.
    pub stderr: Option<String>,
    /// Timing split, outbound calls, the answer and the recorded input.
    pub detail: InvocationDetail,
}

/// What an invocation record keeps besides its summary: stored as one JSON
/// document, and never holding secrets, config, headers or bodies of
/// outbound requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvocationDetail {
    /// Where the time went.
    pub timing: Timing,
    /// Which compiler's code answered: `baseline` (Winch, while the
    /// optimized code is compiled) or `optimized` (Cranelift); absent when
    /// no code ran (`cancelled` before the module loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The outbound requests the action made (at most
    /// [`MAX_RECORDED_CALLS`](crate::capabilities::outbound::MAX_RECORDED_CALLS)).
    pub outbound: Vec<OutboundCall>,
    /// What Workfront was answered; absent for an invocation cut off before
    /// it answered (`cancelled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<RecordedAnswer>,
    /// The request as the action saw it, without config and secrets; absent
    /// when the manifest says `[run-log] record-inputs = false` or it was
    /// larger than [`MAX_RECORDED_INPUT_BYTES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<RecordedInput>,
}

/// Where an invocation's time went, in milliseconds (to the microsecond).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Timing {
    /// After admission, before the sandbox: a module load if the module was
    /// not in memory, the waits for the tenant's memory budget and a free
    /// WebAssembly thread.
    pub queue_ms: f64,
    /// Setting up the sandbox and instantiating (start functions included).
    pub instantiate_ms: f64,
    /// Running the action until its answer.
    pub run_ms: f64,
}

impl Timing {
    /// The split of `queue`, `instantiate` and `run`.
    pub fn of(queue: Duration, instantiate: Duration, run: Duration) -> Self {
        let ms = |d: Duration| d.as_micros() as f64 / 1000.0;
        Self {
            queue_ms: ms(queue),
            instantiate_ms: ms(instantiate),
            run_ms: ms(run),
        }
    }
}

/// Largest answer body a record keeps; a longer one is kept as its status only.
pub const MAX_RECORDED_ANSWER_BYTES: usize = 4 * 1024;

/// The answer Workfront got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body; absent when it was over [`MAX_RECORDED_ANSWER_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

impl RecordedAnswer {
    /// The answer `status` + `body`, its body dropped when too large to keep.
    pub fn new(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            body: json_fits(body, MAX_RECORDED_ANSWER_BYTES).then(|| body.clone()),
        }
    }
}

/// Whether `value` serializes to at most `limit` bytes of JSON; stops
/// writing as soon as it is over, and allocates nothing.
fn json_fits(value: &impl Serialize, limit: usize) -> bool {
    struct Counter {
        left: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.left = self
                .left
                .checked_sub(bytes.len())
                .ok_or(std::io::ErrorKind::FileTooLarge)?;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(&mut Counter { left: limit }, value).is_ok()
}

/// Largest input a record keeps; a larger one is not kept (and cannot be replayed).
pub const MAX_RECORDED_INPUT_BYTES: usize = 4 * 1024;

/// Query parameters never recorded even if a caller sends them: a
/// misconfigured integration might put its key in the URL.
const UNRECORDED_PARAMS: [&str; 1] = ["apikey"];

/// What an action was asked, as far as Workfront chose it: what `docket
/// replay` needs to ask again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedInput {
    /// The Workfront document id.
    pub document_id: String,
    /// The Workfront document version id.
    pub document_version_id: String,
    /// The user (the token's in OAuth2 mode, the `username` header in
    /// ApiKey mode), empty when absent.
    pub username: String,
    /// Whether the user was verified (OAuth2 mode); absent in records made
    /// before OAuth2 mode existed.
    #[serde(default)]
    pub username_verified: bool,
    /// The other query parameters.
    pub params: BTreeMap<String, String>,
}

impl RecordedInput {
    /// What an action was asked (without its config and secrets, which are
    /// never passed here), unless its JSON is larger than a record keeps
    /// (measured as stored: escapes count). A parameter named `apiKey` (any
    /// case) is left out.
    pub fn bounded(
        document_id: &str,
        document_version_id: &str,
        (username, username_verified): (&str, bool),
        params: &BTreeMap<String, String>,
    ) -> Option<Self> {
        let params = params
            .iter()
            .filter(|(name, _)| {
                !UNRECORDED_PARAMS
                    .iter()
                    .any(|unrecorded| name.eq_ignore_ascii_case(unrecorded))
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect::<BTreeMap<_, _>>();
        let input = Self {
            document_id: document_id.to_owned(),
            document_version_id: document_version_id.to_owned(),
            username: username.to_owned(),
            username_verified,
            params,
        };
        json_fits(&input, MAX_RECORDED_INPUT_BYTES).then_some(input)
    }
}

impl NewInvocation {
    /// The detail as the `detail` column stores it.
    pub(crate) fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).unwrap_or_default()
    }
}

/// A version that was called lately: what a start warms first
/// ([`InvocationLog::recently_called`](super::InvocationLog::recently_called)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCall {
    /// The tenant.
    pub tenant: String,
    /// The action.
    pub action: String,
    /// The version that ran.
    pub version: u32,
    /// When its newest recorded invocation started, in milliseconds since the epoch.
    pub last_ms: i64,
}

/// A compiled artifact that passed its check (its recorded digest or its
/// MAC), as [`BlobStore::open_artifact`](super::BlobStore::open_artifact)
/// gives it.
#[derive(Debug)]
pub enum CheckedArtifact {
    /// The bytes, checked in memory.
    Bytes(Vec<u8>),
    /// A file Docket wrote, open, whose bytes were read and checked through
    /// this very handle (so a later rename over its path changes nothing),
    /// to be memory-mapped.
    File(std::fs::File),
}

/// One row of the invocation log, as listed.
#[derive(Debug, Clone)]
pub struct InvocationRecord {
    /// The record's id: numbered per tenant from 1, increasing in the order
    /// the tenant's records were written (so it says nothing about other
    /// tenants' calls), and the cursor paging and streaming continue from.
    pub id: i64,
    /// When it started (RFC 3339).
    pub time: String,
    /// The action.
    pub action: String,
    /// The version that ran.
    pub version: u32,
    /// `success`, `failure`, `limit`, `trap`, `bad-response`, `busy`, `host-error`, `cancelled`.
    pub outcome: String,
    /// Wall-clock duration.
    pub ms: u64,
    /// Which limit was hit, if any.
    pub limit_hit: Option<String>,
    /// Docket's request id.
    pub request_id: String,
    /// The first and last 4 KiB of the action's stderr; absent when it wrote none.
    pub stderr: Option<String>,
    /// Timing split, outbound calls, the answer and the recorded input.
    pub detail: InvocationDetail,
}

/// One invocation as a chart sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvocationSample {
    /// When it started (ms since the epoch).
    pub at_ms: i64,
    /// Wall-clock duration.
    pub duration_ms: u64,
    /// Whether its outcome was `success`.
    pub success: bool,
}

/// Which of a tenant's invocation records to list: every filter set must
/// match. Newest first, unless [`InvocationQuery::after`] is set.
#[derive(Debug, Clone, Default)]
pub struct InvocationQuery {
    /// Only while the tenant still has this immutable id: nothing once it
    /// was deleted and another tenant took its name.
    pub tenant_id: Option<String>,
    /// Only this action's records.
    pub action: Option<String>,
    /// Only records with this outcome.
    pub outcome: Option<String>,
    /// Only records that started at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only records that started at or before this time (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Only the record(s) of this request id.
    pub request_id: Option<String>,
    /// Only records older than this id: the last id of the previous page.
    pub before: Option<i64>,
    /// Only records newer than this id, listed oldest first: what a stream
    /// that has seen this id is missing.
    pub after: Option<i64>,
    /// At most this many records.
    pub limit: u32,
}

/// A secret as listed: its name, never its value.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    /// The secret's name.
    pub name: String,
    /// When it was last set (RFC 3339).
    pub updated_at: String,
}

/// A version to make live.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    /// The tenant deploying.
    pub tenant: &'a TenantName,
    /// The parsed manifest.
    pub manifest: &'a ActionManifest,
    /// The manifest as uploaded, kept for the record.
    pub manifest_text: &'a str,
    /// The module's bytes.
    pub module: &'a [u8],
    /// `command` or `component`.
    pub abi: &'a str,
    /// The compiled artifact and the engine fingerprint it belongs to.
    pub artifact: Option<(&'a [u8], &'a str)>,
}

/// Webhook keys one tenant may have live at once.
pub const MAX_WEBHOOK_KEYS: usize = 20;
pub use crate::limits::MAX_SECRETS;
/// Invocation records kept per tenant by default (`--tenant-max-invocation-records`);
/// older ones are pruned as new ones arrive.
pub const INVOCATIONS_KEPT: i64 = 10_000;

/// Formats stored milliseconds as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

/// Milliseconds since the epoch, as the store records times.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(params: &[(&str, &str)]) -> Option<RecordedInput> {
        let params = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RecordedInput::bounded("doc", "v1", ("jane", false), &params)
    }

    /// The input keeps what Workfront chose, never an `apiKey` parameter
    /// (any case), and is measured as stored, escapes included.
    #[test]
    fn a_recorded_input_keeps_only_what_the_caller_chose_and_is_bounded() {
        let recorded = input(&[("stage", "legal"), ("ApiKey", "k")]).unwrap();
        assert_eq!(
            recorded.params,
            [("stage".to_owned(), "legal".to_owned())].into()
        );
        let json = serde_json::to_string(&recorded).unwrap();
        assert!(!json.contains("ApiKey"), "{json}");

        let plain = "x".repeat(MAX_RECORDED_INPUT_BYTES / 2);
        assert!(input(&[("note", &plain)]).is_some());
        // A control character is six bytes of JSON: this is over the cap.
        let escaped = "\u{1}".repeat(MAX_RECORDED_INPUT_BYTES / 2);
        assert!(input(&[("note", &escaped)]).is_none());
    }

    #[test]
    fn an_answer_body_is_kept_only_within_its_cap() {
        let small = serde_json::json!({"status": "success", "message": "ok"});
        assert_eq!(RecordedAnswer::new(200, &small).body, Some(small));
        let large = serde_json::json!({"message": "x".repeat(MAX_RECORDED_ANSWER_BYTES)});
        let kept = RecordedAnswer::new(200, &large);
        assert_eq!((kept.status, kept.body), (200, None));
    }
}
