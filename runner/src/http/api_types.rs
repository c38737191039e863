//! The admin API's JSON shapes: what `http/admin.rs` answers with, each made
//! from the storage record it shows. The registry's records carry no serde
//! attributes; the names, camelCase and omitted fields of the API are here,
//! and `runner/openapi.json` documents them. The one exception is an
//! invocation's [`InvocationDetail`]: stored as JSON, its stored shape is
//! the one shown.

use crate::names::TenantName;
use crate::registry::{
    ActionInfo, CredentialInfo, InvocationDetail, InvocationRecord, NewTenant, Quotas, SecretInfo,
    TenantInfo, VersionInfo,
};
use serde::Serialize;

/// A new tenant with its secrets, shown once (`POST /tenants`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedTenantJson {
    /// The tenant's name.
    pub name: TenantName,
    /// The tenant admin's bearer token.
    pub admin_token: String,
    /// The first webhook key, for Workfront's `apiKey` header.
    pub api_key: String,
}

impl From<NewTenant> for CreatedTenantJson {
    fn from(new: NewTenant) -> Self {
        Self {
            name: new.name,
            admin_token: new.admin_token,
            api_key: new.api_key,
        }
    }
}

/// A tenant as the operator lists it (`GET /tenants`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantJson {
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
    /// What its quotas are set against, in the operator's list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageJson>,
}

/// A tenant's use of its quotas (`usage` in `GET /tenants` and
/// `GET /tenants/{tenant}`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageJson {
    /// How many actions it has.
    pub actions: u32,
    /// Stored bytes, as the storage quota counts them.
    pub storage_bytes: u64,
    /// Invocations running now, on the replica that answered.
    pub in_flight: u32,
}

impl From<TenantInfo> for TenantJson {
    fn from(info: TenantInfo) -> Self {
        Self {
            name: info.name,
            display_name: info.display_name,
            suspended: info.suspended,
            declarative: info.declarative,
            failure_word: info.failure_word,
            quotas: info.quotas,
            actions: info.actions,
            created_at: info.created_at,
            usage: None,
        }
    }
}

/// A webhook key as listed: never the key, only a hint of its start.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyJson {
    /// The id to revoke it by.
    pub id: String,
    /// The first characters of the key, to tell keys apart.
    pub hint: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

impl From<CredentialInfo> for KeyJson {
    fn from(info: CredentialInfo) -> Self {
        Self {
            id: info.id,
            hint: info.hint,
            created_at: info.created_at,
        }
    }
}

/// An action as its tenant lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionJson {
    /// The action name.
    pub name: String,
    /// The display name of the live version.
    pub display_name: String,
    /// The live version.
    pub live_version: u32,
    /// How many versions are kept.
    pub versions: u32,
    /// `"provider"` for the tenant's document provider, else `"action"`.
    pub kind: &'static str,
    /// The document endpoints the live provider answers (providers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<crate::names::DocEndpoint>>,
}

impl From<ActionInfo> for ActionJson {
    fn from(info: ActionInfo) -> Self {
        Self {
            name: info.name,
            display_name: info.display_name,
            live_version: info.live_version,
            versions: info.versions,
            kind: "action",
            endpoints: None,
        }
    }
}

/// One version of an action as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionJson {
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

impl From<VersionInfo> for VersionJson {
    fn from(info: VersionInfo) -> Self {
        Self {
            version: info.version,
            hash: info.hash,
            size: info.size,
            abi: info.abi,
            created_at: info.created_at,
            live: info.live,
        }
    }
}

/// One row of the invocation log.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationJson {
    /// The record's id: opaque to callers, the cursor `before` pages with
    /// and the SSE event id.
    pub id: String,
    /// When it started (RFC 3339).
    pub time: String,
    /// The action.
    pub action: String,
    /// The version that ran.
    pub version: u32,
    /// How it ended (see [`InvocationRecord::outcome`]).
    pub outcome: String,
    /// Wall-clock duration.
    pub ms: u64,
    /// Which limit was hit, if any.
    pub limit_hit: Option<String>,
    /// Docket's request id.
    pub request_id: String,
    /// The first and last 4 KiB of the action's stderr; absent when it wrote none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// `timing`, `outbound`, and when kept `answer` and `input`.
    #[serde(flatten)]
    pub detail: InvocationDetail,
}

impl From<InvocationRecord> for InvocationJson {
    fn from(record: InvocationRecord) -> Self {
        Self {
            id: record.id.to_string(),
            time: record.time,
            action: record.action,
            version: record.version,
            outcome: record.outcome,
            ms: record.ms,
            limit_hit: record.limit_hit,
            request_id: record.request_id,
            stderr: record.stderr,
            detail: record.detail,
        }
    }
}

/// A secret as listed: its name, never its value.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretJson {
    /// The secret's name.
    pub name: String,
    /// When it was last set (RFC 3339).
    pub updated_at: String,
}

impl From<SecretInfo> for SecretJson {
    fn from(info: SecretInfo) -> Self {
        Self {
            name: info.name,
            updated_at: info.updated_at,
        }
    }
}

/// Records as their JSON shapes, in order.
pub fn shown<R, J: From<R>>(records: Vec<R>) -> Vec<J> {
    records.into_iter().map(J::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shapes the records' own serde attributes produced before they
    /// moved here (plus the invocation's `id`, and the detail, added for run
    /// logs): same names, same order, `stderr` omitted when absent.
    #[test]
    fn json_shapes_are_unchanged() {
        let invocation = InvocationJson::from(InvocationRecord {
            id: 42,
            time: "2026-01-01T00:00:00.000Z".into(),
            action: "greet".into(),
            version: 2,
            outcome: "success".into(),
            ms: 7,
            limit_hit: None,
            request_id: "r1".into(),
            stderr: None,
            detail: InvocationDetail::default(),
        });
        assert_eq!(
            serde_json::to_string(&invocation).unwrap(),
            r#"{"id":"42","time":"2026-01-01T00:00:00.000Z","action":"greet","version":2,"outcome":"success","ms":7,"limitHit":null,"requestId":"r1","timing":{"queueMs":0.0,"instantiateMs":0.0,"runMs":0.0},"outbound":[]}"#
        );
        let failed = InvocationJson {
            stderr: Some("boom".into()),
            limit_hit: Some("fuel".into()),
            ..invocation
        };
        assert!(
            serde_json::to_string(&failed)
                .unwrap()
                .contains(r#""limitHit":"fuel","requestId":"r1","stderr":"boom","timing":"#)
        );
        let created = CreatedTenantJson::from(NewTenant {
            name: TenantName::new("acme").unwrap(),
            admin_token: "dka_x".into(),
            api_key: "dk_y".into(),
        });
        assert_eq!(
            serde_json::to_string(&created).unwrap(),
            r#"{"name":"acme","adminToken":"dka_x","apiKey":"dk_y"}"#
        );
        let version = VersionJson::from(VersionInfo {
            version: 1,
            hash: "ab".into(),
            size: 3,
            abi: "command".into(),
            created_at: "t".into(),
            live: true,
        });
        assert_eq!(
            serde_json::to_string(&version).unwrap(),
            r#"{"version":1,"hash":"ab","size":3,"abi":"command","createdAt":"t","live":true}"#
        );
        let action = ActionJson::from(ActionInfo {
            name: "greet".into(),
            display_name: "Greet".into(),
            live_version: 1,
            versions: 2,
        });
        assert_eq!(
            serde_json::to_string(&action).unwrap(),
            r#"{"name":"greet","displayName":"Greet","liveVersion":1,"versions":2,"kind":"action"}"#
        );
        let key = KeyJson::from(CredentialInfo {
            id: "i".into(),
            hint: "h…".into(),
            created_at: "t".into(),
        });
        assert_eq!(
            serde_json::to_string(&key).unwrap(),
            r#"{"id":"i","hint":"h…","createdAt":"t"}"#
        );
        let secret = SecretJson::from(SecretInfo {
            name: "TOKEN".into(),
            updated_at: "t".into(),
        });
        assert_eq!(
            serde_json::to_string(&secret).unwrap(),
            r#"{"name":"TOKEN","updatedAt":"t"}"#
        );
        let tenant = TenantJson::from(TenantInfo {
            name: "acme".into(),
            display_name: None,
            suspended: false,
            declarative: true,
            failure_word: "error".into(),
            quotas: Quotas::default(),
            actions: 0,
            created_at: "t".into(),
        });
        let text = serde_json::to_string(&tenant).unwrap();
        assert!(
            text.starts_with(
                r#"{"name":"acme","displayName":null,"suspended":false,"declarative":true,"failureWord":"error","quotas":{"#
            ),
            "{text}"
        );
        assert!(
            text.ends_with(r#"},"actions":0,"createdAt":"t"}"#),
            "{text}"
        );
    }
}
