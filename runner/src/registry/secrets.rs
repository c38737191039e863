//! Tenant secrets, encrypted at rest with the operator's key.
//!
//! The key is `DOCKET_SECRETS_KEY` (64 hex digits) when set, otherwise a random
//! key generated once into its key file (mode 0600): `--secrets-key-file`, by
//! default `<data-dir>.secrets.key` beside the data directory, never inside
//! it, so a copy of the data directory does not carry the key that opens its
//! secrets ([`KeyFile`]). Each value is
//! sealed with ChaCha20-Poly1305 under a fresh random nonce, with the tenant and
//! secret name as associated data.
//!
//! Each secret counts its name and ciphertext (the value plus a 16-byte tag)
//! against the tenant's stored bytes (`maxStorageBytes`), besides the per-value
//! and per-tenant count limits here and in the store.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::path::Path;

/// Longest secret value accepted, in characters (so at most four times as
/// many bytes of UTF-8): the `maxLength` the admin API's schema states.
pub const MAX_SECRET_CHARS: usize = 64 * 1024;

/// Why the secrets key could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// `DOCKET_SECRETS_KEY` is not 64 hex digits.
    #[error("DOCKET_SECRETS_KEY must be 64 hexadecimal digits (32 bytes)")]
    BadKey,
    /// The key file belongs to another user: whoever planted it could open
    /// every secret sealed with it.
    #[error(
        "secrets key file {path} belongs to another user (uid {owner}); refusing a key someone \
         else could have chosen: remove it, or point --secrets-key-file at your own"
    )]
    NotOwned {
        /// The key file.
        path: String,
        /// Its owner's uid.
        owner: u32,
    },
    /// The key file could not be read or written.
    #[error("secrets key file {path}: {source}")]
    File {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Where the secrets key file is, and what the operator should hear about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The file to read, or to create on first use.
    pub path: std::path::PathBuf,
    /// Set when the key sits inside the data directory: a warning for the
    /// operator, saying what to do.
    pub warning: Option<String>,
}

/// The file name of the key inside a data directory, where Docket kept it
/// before it moved beside the data directory.
pub const LEGACY_KEY_FILE: &str = "secrets.key";

impl KeyFile {
    /// Where the key is: `explicit` (`--secrets-key-file`) when given, else
    /// `<data-dir>.secrets.key` beside the data directory, unless only an
    /// older install's `<data-dir>/secrets.key` exists, which keeps working
    /// where it is, with a warning.
    pub fn locate(explicit: Option<&Path>, data_dir: &Path) -> Self {
        let data_dir = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
        let legacy = data_dir.join(LEGACY_KEY_FILE);
        let inside = |path: &Path| {
            let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
            path.starts_with(&data_dir).then(|| {
                format!(
                    "the secrets key {} is inside the data directory {}: a copy or backup of \
                     the data directory carries the key that opens its secrets. Move it \
                     elsewhere (another volume, ideally) and pass --secrets-key-file, or \
                     set DOCKET_SECRETS_KEY",
                    path.display(),
                    data_dir.display()
                )
            })
        };
        if let Some(path) = explicit {
            return Self {
                warning: inside(path),
                path: path.to_owned(),
            };
        }
        let beside = default_key_file(&data_dir);
        if !beside.exists() && legacy.exists() {
            let warning = inside(&legacy).map(|w| {
                format!(
                    "{w}; for example: mv {} {}",
                    legacy.display(),
                    beside.display()
                )
            });
            return Self {
                path: legacy,
                warning,
            };
        }
        Self {
            warning: inside(&beside),
            path: beside,
        }
    }
}

/// `<data-dir>.secrets.key`: beside the data directory, never in it. (A
/// data directory with no parent, `/`, keeps it inside, with a warning.)
pub fn default_key_file(data_dir: &Path) -> std::path::PathBuf {
    match (data_dir.parent(), data_dir.file_name()) {
        (Some(parent), Some(name)) => {
            let mut file = name.to_os_string();
            file.push(".secrets.key");
            parent.join(file)
        }
        _ => data_dir.join(LEGACY_KEY_FILE),
    }
}

/// Seals and opens secret values.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// Authenticates compiled artifacts shared through a database
    /// (PostgreSQL mode), derived from the same operator key.
    artifact_key: [u8; 32],
    /// Signs document links, derived from the same operator key.
    link_key: [u8; 32],
}

impl SecretBox {
    /// A box over a 32-byte key.
    pub fn new(key: [u8; 32]) -> Self {
        use hmac::Mac;
        let mut derive = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key)
            .expect("HMAC takes keys of any length");
        let mut links = derive.clone();
        derive.update(b"docket compiled-artifact authentication v1");
        links.update(b"docket document links v1");
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            artifact_key: derive.finalize().into_bytes().into(),
            link_key: links.finalize().into_bytes().into(),
        }
    }

    /// The key that signs document links (a provider's `download` reached
    /// from a browser without Workfront's headers), derived from the
    /// operator's key: the same on every replica that shares it.
    pub fn link_key(&self) -> [u8; 32] {
        self.link_key
    }

    /// The key that authenticates compiled artifacts, derived from the
    /// operator's key (never the key itself, and never stored).
    pub fn artifact_key(&self) -> [u8; 32] {
        self.artifact_key
    }

    /// The operator's key: from the environment value, or the key file at
    /// `key_file` (created on first use, see [`KeyFile::locate`]).
    pub fn load(env_value: Option<&str>, key_file: &Path) -> Result<Self, SecretKeyError> {
        if let Some(hex_key) = env_value.filter(|v| !v.is_empty()) {
            let bytes = hex::decode(hex_key.trim()).map_err(|_| SecretKeyError::BadKey)?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| SecretKeyError::BadKey)?;
            return Ok(Self::new(key));
        }
        let path = key_file.to_owned();
        let file_err = |source| SecretKeyError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                check_key_file(&path)?;
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

/// An existing key file must be this user's; one others may read is
/// tightened to 0600, with a warning.
#[cfg(unix)]
fn check_key_file(path: &Path) -> Result<(), SecretKeyError> {
    use std::os::unix::fs::MetadataExt;
    let file_err = |source| SecretKeyError::File {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(file_err)?;
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(SecretKeyError::NotOwned {
            path: path.display().to_string(),
            owner: meta.uid(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        tracing::warn!(path = %path.display(), "the secrets key file was readable by others; made it 0600");
        restrict_permissions(path).map_err(file_err)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_key_file(_path: &Path) -> Result<(), SecretKeyError> {
    Ok(())
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

    /// The key is kept beside the data directory by default; an older
    /// install's key inside it keeps working, with a warning; an explicit
    /// file inside it is warned about too.
    #[test]
    fn the_key_lives_beside_the_data_directory() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let fresh = KeyFile::locate(None, &data);
        assert_eq!(fresh.path, root.path().join("data.secrets.key"));
        assert_eq!(fresh.warning, None);
        std::fs::write(data.join(LEGACY_KEY_FILE), [1; 32]).unwrap();
        let legacy = KeyFile::locate(None, &data);
        assert_eq!(legacy.path, data.join(LEGACY_KEY_FILE));
        assert!(legacy.warning.unwrap().contains("mv "));
        std::fs::write(root.path().join("data.secrets.key"), [2; 32]).unwrap();
        assert_eq!(KeyFile::locate(None, &data).path, fresh.path, "moved");
        let explicit = KeyFile::locate(Some(&data.join("k")), &data);
        assert!(explicit.warning.is_some());
        let elsewhere = KeyFile::locate(Some(&root.path().join("k")), &data);
        assert_eq!(elsewhere.warning, None);
    }

    /// A key file someone else owns is refused (whoever planted it could
    /// open every secret sealed with it); one others may read is tightened.
    /// Changing a file's owner needs root, as CI runs; skipped otherwise.
    #[cfg(unix)]
    #[test]
    fn a_key_file_of_another_user_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        std::fs::write(&file, [1u8; 32]).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(SecretBox::load(None, &file).is_ok());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&file, Some(12345), None).unwrap();
            assert!(matches!(
                SecretBox::load(None, &file),
                Err(SecretKeyError::NotOwned { owner: 12345, .. })
            ));
        }
    }

    #[test]
    fn generated_key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.key");
        let first = SecretBox::load(None, &file).unwrap();
        let (nonce, sealed) = first.seal("a", "b", b"v");
        let second = SecretBox::load(None, &file).unwrap();
        assert_eq!(
            second.open("a", "b", &nonce, &sealed).as_deref(),
            Some(&b"v"[..])
        );
        assert!(SecretBox::load(Some("abc"), &file).is_err());
    }
}
