//! Tenant secrets, encrypted at rest with the operator's key.
//!
//! The key is `DOCKET_SECRETS_KEY` (64 hex digits) when set, otherwise a random
//! key generated once into `<data-dir>/secrets.key` (mode 0600). Each value is
//! sealed with ChaCha20-Poly1305 under a fresh random nonce, with the tenant and
//! secret name as associated data.
//!
//! Each secret counts its name and ciphertext (the value plus a 16-byte tag)
//! against the tenant's stored bytes (`maxStorageBytes`), besides the per-value
//! and per-tenant count limits here and in the store.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

/// Largest secret value accepted, in bytes.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Why the secrets key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// `DOCKET_SECRETS_KEY` is not 64 hex digits.
    #[error("DOCKET_SECRETS_KEY must be 64 hexadecimal digits (32 bytes)")]
    BadKey,
    /// The key file could not be read or written.
    #[error("secrets key file {path}: {source}")]
    File {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Seals and opens secret values.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// Authenticates compiled artifacts shared through a database
    /// (PostgreSQL mode), derived from the same operator key.
    artifact_key: [u8; 32],
}

impl SecretBox {
    /// A box over a 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        use hmac::Mac;
        let mut derive = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key)
            .expect("HMAC takes keys of any length");
        derive.update(b"docket compiled-artifact authentication v1");
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            artifact_key: derive.finalize().into_bytes().into(),
        }
    }

    /// The key that authenticates compiled artifacts, derived from the
    /// operator's key (never the key itself, and never stored).
    pub fn artifact_key(&self) -> [u8; 32] {
        self.artifact_key
    }

    /// The operator's key: from the environment value, or the key file under
    /// `data_dir` (created on first use).
    pub fn load(env_value: Option<&str>, data_dir: &Path) -> Result<Self, SecretKeyError> {
        if let Some(hex_key) = env_value.filter(|v| !v.is_empty()) {
            let bytes = hex::decode(hex_key.trim()).map_err(|_| SecretKeyError::BadKey)?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| SecretKeyError::BadKey)?;
            return Ok(Self::new(key));
        }
        let path = data_dir.join("secrets.key");
        let file_err = |source| SecretKeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes.try_into().map_err(|_| SecretKeyError::BadKey)?;
                Ok(Self::new(key))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                super::keys::write_atomically(&path, &key).map_err(file_err)?;
                restrict_permissions(&path).map_err(file_err)?;
                Ok(Self::new(key))
            }
            Err(err) => Err(file_err(err)),
        }
    }

    /// Encrypts a value for (tenant, name); returns (nonce, ciphertext).
    pub fn seal(&self, tenant: &str, name: &str, value: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let nonce: [u8; 12] = rand::random();
        let aad = associated_data(tenant, name);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: value,
                    aad: &aad,
                },
            )
            .expect("ChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        (nonce.to_vec(), ciphertext)
    }

    /// Decrypts a value sealed for (tenant, name); `None` if it was not, or the
    /// key changed.
    pub fn open(
        &self,
        tenant: &str,
        name: &str,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Option<Vec<u8>> {
        if nonce.len() != 12 {
            return None;
        }
        let aad = associated_data(tenant, name);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()
    }
}

fn associated_data(tenant: &str, name: &str) -> Vec<u8> {
    format!("docket-secret\0{tenant}\0{name}").into_bytes()
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Checks a secret's name: 1 to 64 characters of `A-Z a-z 0-9 _ - .`.
pub fn check_secret_name(name: &str) -> Result<(), String> {
    crate::names::SecretName::new(name)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_tenant_and_name() {
        let secrets = SecretBox::new([7; 32]);
        let (nonce, sealed) = secrets.seal("acme", "token", b"s3cret");
        assert_eq!(
            secrets.open("acme", "token", &nonce, &sealed).as_deref(),
            Some(&b"s3cret"[..])
        );
        assert_eq!(secrets.open("globex", "token", &nonce, &sealed), None);
        assert_eq!(secrets.open("acme", "other", &nonce, &sealed), None);
        assert_eq!(
            SecretBox::new([8; 32]).open("acme", "token", &nonce, &sealed),
            None
        );
    }

    #[test]
    fn generated_key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load(None, dir.path()).unwrap();
        let (nonce, sealed) = first.seal("a", "b", b"v");
        let second = SecretBox::load(None, dir.path()).unwrap();
        assert_eq!(
            second.open("a", "b", &nonce, &sealed).as_deref(),
            Some(&b"v"[..])
        );
        assert!(SecretBox::load(Some("abc"), dir.path()).is_err());
    }
}
