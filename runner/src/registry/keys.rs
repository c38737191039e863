//! Webhook API keys: generated at random, shown once, stored only as hashes, and
//! compared in constant time.
//!
//! Keys carry 192 random bits, so a plain SHA-256 is the right hash: a slow
//! password hash protects low-entropy secrets and would only slow every request.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

use crate::names::TenantName;

/// The visible prefix of every Docket webhook key, so a leaked key is recognizable.
pub const KEY_PREFIX: &str = "dk_";

/// The SHA-256 of a key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

impl KeyHash {
    /// Hashes a presented or generated key.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Parses the hex form written by [`KeyHash::to_hex`].
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The raw hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash in hex, for storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// A fresh random key: `dk_` and 48 hex digits.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// A new tenant admin token: 192 random bits, prefixed `dka_` so it is told
/// apart from a webhook key at a glance.
pub fn generate_admin_token() -> String {
    format!("dka_{}", &generate_key()[KEY_PREFIX.len()..])
}

/// Whether `presented` matches any of `hashes`. Every hash is compared, in
/// constant time, so timing tells nothing about which or how close.
pub fn matches_any(hashes: &[KeyHash], presented: &str) -> bool {
    contains_hash(hashes, &KeyHash::of(presented))
}

/// Whether `candidate` is one of `hashes`, compared in constant time.
pub fn contains_hash(hashes: &[KeyHash], candidate: &KeyHash) -> bool {
    hashes
        .iter()
        .fold(subtle::Choice::from(0), |found, hash| {
            found | hash.0.ct_eq(&candidate.0)
        })
        .into()
}

/// Where a declarative tenant's webhook key or admin token came from, for the
/// start-up banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `DOCKET_API_KEY_<TENANT>` (or `DOCKET_ADMIN_TOKEN_<TENANT>`) was set;
    /// holds the variable's name.
    Environment(String),
    /// Generated now; the only time the plain key exists. Print it once.
    Generated(String),
    /// Generated at an earlier start; only its hash is kept, in this file.
    Stored(PathBuf),
}

/// The two credentials a declarative tenant gets without an admin call, each
/// from its own environment variable or else generated once under `--data-dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarativeCredential {
    /// The webhook key Workfront sends as `apiKey`: `DOCKET_API_KEY_<TENANT>`,
    /// else `<data-dir>/declarative-keys/<tenant>.sha256`.
    WebhookKey,
    /// The tenant's admin token (run log, replay, keys listing):
    /// `DOCKET_ADMIN_TOKEN_<TENANT>`, else
    /// `<data-dir>/declarative-keys/<tenant>.admin-token.sha256`.
    AdminToken,
}

impl DeclarativeCredential {
    /// What it is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::WebhookKey => "webhook key",
            Self::AdminToken => "admin token",
        }
    }

    /// The environment variable that sets it for `tenant`.
    pub fn env_var(self, tenant: &TenantName) -> String {
        match self {
            Self::WebhookKey => tenant.api_key_env_var(),
            Self::AdminToken => tenant.admin_token_env_var(),
        }
    }

    /// Where its hash is kept when it was generated. Tenant names have no
    /// dot, so the two files of one tenant never collide with another's.
    pub fn hash_file(self, data_dir: &Path, tenant: &TenantName) -> PathBuf {
        let name = match self {
            Self::WebhookKey => format!("{tenant}.sha256"),
            Self::AdminToken => format!("{tenant}.admin-token.sha256"),
        };
        data_dir.join("declarative-keys").join(name)
    }

    fn generate(self) -> String {
        match self {
            Self::WebhookKey => generate_key(),
            Self::AdminToken => generate_admin_token(),
        }
    }
}

/// The webhook key of a declarative tenant (`docs/architecture.md#declarative-tenants`): from the environment when
/// set, else the hash stored under `data_dir` by an earlier start, else a new key
/// whose hash is stored now.
pub fn declarative_key(
    data_dir: &Path,
    tenant: &TenantName,
    env_value: Option<String>,
) -> std::io::Result<(KeyHash, KeySource)> {
    declarative_credential(
        DeclarativeCredential::WebhookKey,
        data_dir,
        tenant,
        env_value,
    )
}

/// A declarative tenant's webhook key or admin token, as [`declarative_key`]
/// describes: from the environment when set, else the hash an earlier start
/// stored under `data_dir`, else a new one whose hash is stored now.
pub fn declarative_credential(
    kind: DeclarativeCredential,
    data_dir: &Path,
    tenant: &TenantName,
    env_value: Option<String>,
) -> std::io::Result<(KeyHash, KeySource)> {
    if let Some(key) = env_value.filter(|k| !k.is_empty()) {
        return Ok((
            KeyHash::of(&key),
            KeySource::Environment(kind.env_var(tenant)),
        ));
    }
    let path = kind.hash_file(data_dir, tenant);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(hash) = KeyHash::from_hex(&text) {
            return Ok((hash, KeySource::Stored(path)));
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: not a {} hash; delete it to mint a new one",
                path.display(),
                kind.noun()
            ),
        ));
    }
    let key = kind.generate();
    let hash = KeyHash::of(&key);
    write_atomically(&path, hash.to_hex().as_bytes())?;
    Ok((hash, KeySource::Generated(key)))
}

/// The credential rows a declarative tenant has, as `(id, kind, hash)`: its
/// webhook key and its admin token. The ids are fixed, so a listing shows the
/// same key id at every start, and collide with no other tenant's (tenant
/// names have no dot) nor with generated ids.
pub fn declarative_credentials<'a>(
    tenant: &TenantName,
    webhook_key: &'a KeyHash,
    admin_token: &'a KeyHash,
) -> [(String, &'static str, &'a KeyHash); 2] {
    [
        (format!("declarative-{tenant}"), "webhook", webhook_key),
        (format!("declarative.admin.{tenant}"), "admin", admin_token),
    ]
}

/// Writes a file so that a crash leaves either the old content or the new, never half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory is synced; the database may
    // commit a reference to this file right after.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_prefixed() {
        let (a, b) = (generate_key(), generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX));
        assert_eq!(a.len(), KEY_PREFIX.len() + 48);
    }

    #[test]
    fn matches_any_finds_each_live_key_and_nothing_else() {
        let hashes = vec![KeyHash::of("one"), KeyHash::of("two")];
        assert!(matches_any(&hashes, "one"));
        assert!(matches_any(&hashes, "two"));
        assert!(!matches_any(&hashes, "three"));
        assert!(!matches_any(&[], "one"));
    }

    #[test]
    fn declarative_key_is_generated_once_then_stored() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = TenantName::new("demo").unwrap();
        let (hash, source) = declarative_key(dir.path(), &tenant, None).unwrap();
        let KeySource::Generated(key) = source else {
            panic!("expected a new key, got {source:?}")
        };
        assert_eq!(hash, KeyHash::of(&key));
        let (again, source) = declarative_key(dir.path(), &tenant, None).unwrap();
        assert_eq!(again, hash);
        assert!(matches!(source, KeySource::Stored(_)));
        let stored = std::fs::read_to_string(dir.path().join("declarative-keys/demo.sha256"));
        assert!(
            !stored.unwrap().contains(&key),
            "the plain key must not be stored"
        );
    }

    #[test]
    fn declarative_admin_token_is_kept_apart_from_the_webhook_key() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = TenantName::new("demo").unwrap();
        let (key_hash, _) = declarative_key(dir.path(), &tenant, None).unwrap();
        let kind = DeclarativeCredential::AdminToken;
        let (hash, source) = declarative_credential(kind, dir.path(), &tenant, None).unwrap();
        let KeySource::Generated(token) = source else {
            panic!("expected a new token, got {source:?}")
        };
        assert!(token.starts_with("dka_"), "{token}");
        assert_eq!(hash, KeyHash::of(&token));
        assert_ne!(hash, key_hash);
        let (again, source) = declarative_credential(kind, dir.path(), &tenant, None).unwrap();
        assert_eq!(again, hash);
        assert_eq!(
            source,
            KeySource::Stored(dir.path().join("declarative-keys/demo.admin-token.sha256"))
        );
        let (from_env, source) =
            declarative_credential(kind, dir.path(), &tenant, Some("t".into())).unwrap();
        assert_eq!(from_env, KeyHash::of("t"));
        assert_eq!(
            source,
            KeySource::Environment("DOCKET_ADMIN_TOKEN_DEMO".into())
        );
    }

    #[test]
    fn environment_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = TenantName::new("demo").unwrap();
        let (hash, source) = declarative_key(dir.path(), &tenant, Some("k".into())).unwrap();
        assert_eq!(hash, KeyHash::of("k"));
        assert_eq!(source, KeySource::Environment("DOCKET_API_KEY_DEMO".into()));
    }
}
