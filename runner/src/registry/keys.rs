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
    let candidate = KeyHash::of(presented);
    hashes
        .iter()
        .fold(subtle::Choice::from(0), |found, hash| {
            found | hash.0.ct_eq(&candidate.0)
        })
        .into()
}

/// Where a declarative tenant's key came from, for the start-up banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `DOCKET_API_KEY_<TENANT>` was set.
    Environment(String),
    /// Generated now; the only time the plain key exists. Print it once.
    Generated(String),
    /// Generated at an earlier start; only its hash is kept.
    Stored(PathBuf),
}

/// The webhook key of a declarative tenant (`docs/architecture.md#declarative-tenants`): from the environment when
/// set, else the hash stored under `data_dir` by an earlier start, else a new key
/// whose hash is stored now.
pub fn declarative_key(
    data_dir: &Path,
    tenant: &TenantName,
    env_value: Option<String>,
) -> std::io::Result<(KeyHash, KeySource)> {
    let env_var = tenant.api_key_env_var();
    if let Some(key) = env_value.filter(|k| !k.is_empty()) {
        return Ok((KeyHash::of(&key), KeySource::Environment(env_var)));
    }
    let path = data_dir
        .join("declarative-keys")
        .join(format!("{tenant}.sha256"));
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(hash) = KeyHash::from_hex(&text) {
            return Ok((hash, KeySource::Stored(path)));
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: not a key hash; delete it to mint a new key",
                path.display()
            ),
        ));
    }
    let key = generate_key();
    let hash = KeyHash::of(&key);
    write_atomically(&path, hash.to_hex().as_bytes())?;
    Ok((hash, KeySource::Generated(key)))
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
    fn environment_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = TenantName::new("demo").unwrap();
        let (hash, source) = declarative_key(dir.path(), &tenant, Some("k".into())).unwrap();
        assert_eq!(hash, KeyHash::of("k"));
        assert_eq!(source, KeySource::Environment("DOCKET_API_KEY_DEMO".into()));
    }
}
