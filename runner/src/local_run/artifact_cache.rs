//! The compiled-artifact cache of `docket invoke` and `docket replay`
//! (docs/architecture.md#compiled-artifact-caching): the server keeps
//! compiled artifacts in its store, and a local run keeps them here, keyed
//! the same way, so only the first run of a build compiles it.
//!
//! Layout, under the cache directory ([`ArtifactCache::from_env`]):
//!
//! ```text
//! <module sha256>/<engine fingerprint>.cwasm    the artifact (Engine::artifact)
//! <module sha256>/<engine fingerprint>.sha256   its SHA-256, in hex, written with it
//! ```
//!
//! The fingerprint is [`Engine::artifact_fingerprint`] of the tier local
//! runs compile with, so an artifact of another wasmtime or engine
//! configuration is never read. An artifact is deserialized only when its
//! bytes, as read into memory, have the SHA-256 Docket recorded when it wrote
//! them, and only from directories of this user that no one else may write
//! to; anything else is ignored with one warning on stderr and the module is
//! compiled. Nothing here fails a run: a cache that cannot be read or written
//! only costs the compile.
//!
//! Files are written to a temporary file in the same directory and renamed
//! into place, the artifact first and its digest last (an artifact without
//! its digest is not read: another run is still writing it); files are 0600
//! and directories 0700. After each write, the least recently used artifacts
//! (by modification time, which a cache hit renews) are deleted until the
//! artifacts take at most [`MAX_CACHE_BYTES`].

use crate::config::ArtifactCacheArgs;
use crate::engine::{Engine, LoadError, PreparedModule, Tier};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Most bytes of artifacts the cache keeps: 256 MiB, six artifacts of the
/// largest example (the Python one's is 38 MiB).
pub const MAX_CACHE_BYTES: u64 = 256 << 20;

/// The tier local runs compile with: [`Engine::load`] optimizes, since a
/// local run does not wait for a background compile.
const TIER: Tier = Tier::Optimized;

/// A temporary file older than this is left from a run that died while
/// writing, and is deleted when the cache is trimmed.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The prefix of the temporary files written before their rename.
const TEMP_PREFIX: &str = ".tmp-";

/// A directory of compiled artifacts (see the module docs).
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl ArtifactCache {
    /// A cache in `dir`, created when first written, of at most
    /// [`MAX_CACHE_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: MAX_CACHE_BYTES,
        }
    }

    /// The same cache, keeping at most `max_bytes` of artifacts.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The cache of this user: `$DOCKET_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/docket/artifacts`, else
    /// `$HOME/.cache/docket/artifacts`; none when none of them is set.
    pub fn from_env() -> Option<Self> {
        location(|name| std::env::var_os(name)).map(Self::new)
    }

    /// The cache a local run uses: none with `--no-cache`, else
    /// [`ArtifactCache::from_env`].
    pub fn from_args(args: &ArtifactCacheArgs) -> Option<Self> {
        match args.no_cache {
            true => None,
            false => Self::from_env(),
        }
    }

    /// Validates `bytes` ([`Engine::check`]) and prepares them, from a cached
    /// artifact when there is a good one, else compiling them as
    /// [`Engine::load`] does and caching the artifact. Fails only as
    /// [`Engine::load`] would.
    pub fn load(&self, engine: &Engine, bytes: &[u8]) -> Result<PreparedModule, LoadError> {
        let abi = engine.check(bytes)?;
        let entry = Entry::new(&self.dir, bytes, &engine.artifact_fingerprint(TIER));
        let writable = match self.read(&entry) {
            Ok(Some(artifact)) => {
                let started = Instant::now();
                // The bytes passed are the ones just hashed: an artifact this
                // engine configuration serialized, as load_artifact requires.
                match engine.load_artifact(&artifact, abi, TIER) {
                    Ok(module) => {
                        touch(&entry.artifact);
                        tracing::debug!(
                            module = %entry.module,
                            from = "artifact",
                            tier = %TIER,
                            ms = started.elapsed().as_millis() as u64,
                            path = %entry.artifact.display(),
                            "module loaded"
                        );
                        return Ok(module);
                    }
                    Err(err) => {
                        warn_ignored(&entry.artifact, &format!("it does not load ({err})"));
                        true
                    }
                }
            }
            Ok(None) => true,
            Err(Unusable::Entry(why)) => {
                warn_ignored(&entry.artifact, &why);
                true
            }
            Err(Unusable::Dir(dir, why)) => {
                warn_unusable(&dir, &why);
                false
            }
        };
        let started = Instant::now();
        let module = engine.compile_checked(bytes, abi, TIER)?;
        tracing::debug!(
            module = %entry.module,
            from = "compiled",
            tier = %TIER,
            ms = started.elapsed().as_millis() as u64,
            "module loaded"
        );
        if writable {
            self.save(engine, &module, &entry);
        }
        Ok(module)
    }

    /// The cached artifact of `entry`, if there is one and its bytes have the
    /// SHA-256 recorded beside them.
    fn read(&self, entry: &Entry) -> Result<Option<Vec<u8>>, Unusable> {
        for dir in [&self.dir, &entry.dir] {
            match private_dir(dir) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(err) => return Err(Unusable::Dir(dir.clone(), err.to_string())),
            }
        }
        let artifact = match fs::read(&entry.artifact) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Unusable::Entry(err.to_string())),
        };
        let recorded = match fs::read_to_string(&entry.digest) {
            Ok(text) => text.trim().to_owned(),
            // Another run wrote the artifact and has yet to write its
            // digest (or died in between): not readable, not a fault.
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(Unusable::Entry(format!(
                    "reading {}: {err}",
                    entry.digest.display()
                )));
            }
        };
        if hex::encode(Sha256::digest(&artifact)) != recorded {
            return Err(Unusable::Entry(
                "its bytes do not match the SHA-256 recorded when it was written".into(),
            ));
        }
        Ok(Some(artifact))
    }

    /// Writes the artifact of `module` and its digest, then trims the cache.
    /// A failure is one warning.
    fn save(&self, engine: &Engine, module: &PreparedModule, entry: &Entry) {
        let artifact = match engine.artifact(module) {
            Ok(artifact) => artifact,
            Err(err) => {
                warn_not_saved(&entry.artifact, &err.to_string());
                return;
            }
        };
        match self.write(entry, &artifact) {
            Ok(()) => {
                if let Err(err) = self.trim(&entry.artifact) {
                    eprintln!(
                        "warning: could not trim the artifact cache {} to {} MiB: {err}",
                        self.dir.display(),
                        self.max_bytes >> 20
                    );
                }
            }
            Err((path, err)) => warn_not_saved(&path, &err.to_string()),
        }
    }

    /// Writes `artifact` and then its digest into `entry`'s directory,
    /// creating the directories; a failure names the path it was at.
    fn write(&self, entry: &Entry, artifact: &[u8]) -> Result<(), (PathBuf, io::Error)> {
        for dir in [&self.dir, &entry.dir] {
            make_private_dir(dir).map_err(|err| (dir.clone(), err))?;
        }
        let digest = format!("{}\n", hex::encode(Sha256::digest(artifact)));
        write_atomically(&entry.dir, &entry.artifact, artifact)
            .map_err(|err| (entry.artifact.clone(), err))?;
        write_atomically(&entry.dir, &entry.digest, digest.as_bytes())
            .map_err(|err| (entry.digest.clone(), err))
    }

    /// Deletes the least recently used artifacts (never `keep`, the one just
    /// written) until the artifacts take at most `max_bytes`, and temporary
    /// files left by runs that died while writing.
    fn trim(&self, keep: &Path) -> io::Result<()> {
        let mut artifacts = Vec::new();
        let mut total = 0u64;
        for module_dir in fs::read_dir(&self.dir)? {
            let module_dir = module_dir?;
            let is_ours = module_dir.file_name().to_str().is_some_and(is_sha256_hex);
            if !is_ours || !module_dir.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(module_dir.path())? {
                let file = file?;
                let metadata = file.metadata()?;
                let name = file.file_name();
                let name = name.to_string_lossy();
                if !metadata.is_file() {
                    continue;
                }
                let modified = metadata.modified()?;
                if name.ends_with(".cwasm") {
                    total += metadata.len();
                    artifacts.push((modified, metadata.len(), file.path()));
                } else if name.starts_with(TEMP_PREFIX)
                    && modified.elapsed().is_ok_and(|age| age > STALE_TEMP)
                {
                    remove_if_present(&file.path())?;
                }
            }
        }
        artifacts.sort();
        for (_, size, path) in artifacts {
            if total <= self.max_bytes {
                break;
            }
            if path == keep {
                continue;
            }
            // The digest first: an artifact without one is never read.
            remove_if_present(&path.with_extension("sha256"))?;
            remove_if_present(&path)?;
            total -= size;
            if let Some(dir) = path.parent() {
                // Only when empty; another fingerprint's artifact may remain.
                let _ = fs::remove_dir(dir);
            }
        }
        Ok(())
    }
}

/// The cache directory from the environment (`var` reads a variable), as
/// [`ArtifactCache::from_env`] describes. Empty variables count as unset,
/// and a relative `XDG_CACHE_HOME` is ignored, as the XDG spec says.
fn location(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name| {
        var(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = set("DOCKET_CACHE_DIR") {
        return Some(dir);
    }
    let base = match set("XDG_CACHE_HOME").filter(|dir| dir.is_absolute()) {
        Some(dir) => dir,
        None => set("HOME")?.join(".cache"),
    };
    Some(base.join("docket").join("artifacts"))
}

/// The files of one module's artifact for one engine fingerprint.
struct Entry {
    /// The module's SHA-256, in hex.
    module: String,
    /// `<cache>/<module sha256>`.
    dir: PathBuf,
    /// `<fingerprint>.cwasm`.
    artifact: PathBuf,
    /// `<fingerprint>.sha256`: the artifact's SHA-256 as Docket wrote it.
    digest: PathBuf,
}

impl Entry {
    fn new(cache: &Path, module: &[u8], fingerprint: &str) -> Self {
        let module = hex::encode(Sha256::digest(module));
        let dir = cache.join(&module);
        Self {
            artifact: dir.join(format!("{fingerprint}.cwasm")),
            digest: dir.join(format!("{fingerprint}.sha256")),
            module,
            dir,
        }
    }
}

/// Why a cached artifact was not read.
enum Unusable {
    /// This entry is unusable (unreadable, or not the bytes Docket wrote).
    Entry(String),
    /// The cache directory (or the module's) may not be trusted: the cache
    /// is neither read nor written.
    Dir(PathBuf, String),
}

fn warn_ignored(path: &Path, why: &str) {
    eprintln!(
        "warning: ignoring the cached artifact {}: {why}; compiling the module",
        path.display()
    );
}

fn warn_unusable(dir: &Path, why: &str) {
    eprintln!(
        "warning: not using the artifact cache {}: {why}; compiling the module",
        dir.display()
    );
}

fn warn_not_saved(path: &Path, why: &str) {
    eprintln!(
        "warning: could not cache the compiled module at {}: {why}",
        path.display()
    );
}

/// Ok when `dir` is a directory of this user that no one else may write
/// to: artifacts run as native code, so they are read only from there.
fn private_dir(dir: &Path) -> io::Result<()> {
    let metadata = fs::metadata(dir)?;
    if !metadata.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    if metadata.uid() != rustix::process::geteuid().as_raw() {
        return Err(io::Error::other("owned by another user"));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(io::Error::other(format!(
            "writable by other users (mode {:o}; chmod 700 it)",
            metadata.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Creates `dir` (and its parents) 0700 if missing, then checks it as
/// [`private_dir`] does.
fn make_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    private_dir(dir)
}

/// Writes `bytes` to `path` (in `dir`) through a temporary 0600 file in
/// `dir`, renamed into place: a reader sees the old file or the new one.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    file.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.persist(path).map_err(|err| err.error)?;
    Ok(())
}

/// Marks an artifact used now, for the least-recently-used trim. Best
/// effort: a failure only makes it look older.
fn touch(path: &Path) {
    if let Ok(file) = fs::File::options().write(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_cache_dir_comes_from_docket_then_xdg_then_home() {
        let all = [
            ("DOCKET_CACHE_DIR", "/d"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(location(env(&all)), Some(PathBuf::from("/d")));
        assert_eq!(
            location(env(&all[1..])),
            Some(PathBuf::from("/x/docket/artifacts"))
        );
        assert_eq!(
            location(env(&all[2..])),
            Some(PathBuf::from("/h/.cache/docket/artifacts"))
        );
        // Empty counts as unset; a relative XDG_CACHE_HOME is ignored.
        let odd = [
            ("DOCKET_CACHE_DIR", ""),
            ("XDG_CACHE_HOME", "rel"),
            ("HOME", "/h"),
        ];
        assert_eq!(
            location(env(&odd)),
            Some(PathBuf::from("/h/.cache/docket/artifacts"))
        );
        assert_eq!(location(env(&[])), None);
    }

    /// A file of `size` bytes last used `age_s` seconds ago.
    fn artifact(dir: &Path, module: char, size: usize, age_s: u64) -> PathBuf {
        let module_dir = dir.join(module.to_string().repeat(64));
        make_private_dir(&module_dir).unwrap();
        let path = module_dir.join("f.cwasm");
        write_atomically(&module_dir, &path, &vec![0; size]).unwrap();
        write_atomically(&module_dir, &path.with_extension("sha256"), b"x\n").unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(age_s))
            .unwrap();
        path
    }

    #[test]
    fn trimming_deletes_the_least_recently_used_first_and_never_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path()).with_max_bytes(250);
        let oldest = artifact(dir.path(), 'a', 100, 300);
        let older = artifact(dir.path(), 'b', 100, 200);
        let recent = artifact(dir.path(), 'c', 100, 100);
        let new = artifact(dir.path(), 'd', 100, 0);
        cache.trim(&new).unwrap();
        assert!(!oldest.exists() && !oldest.with_extension("sha256").exists());
        assert!(!oldest.parent().unwrap().exists(), "its empty dir goes too");
        assert!(!older.exists());
        assert!(recent.exists() && new.exists());

        // One artifact over the bound on its own is still kept.
        let cache = ArtifactCache::new(dir.path()).with_max_bytes(10);
        cache.trim(&new).unwrap();
        assert!(!recent.exists() && new.exists());
    }

    #[test]
    fn files_are_private_and_a_shared_dir_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let path = artifact(&cache_dir, 'a', 10, 0);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&cache_dir), 0o700);

        fs::set_permissions(&cache_dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = private_dir(&cache_dir).unwrap_err();
        assert!(err.to_string().contains("writable by other users"), "{err}");
    }
}
