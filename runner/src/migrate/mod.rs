//! `docket migrate --from DATA_DIR --to postgres://…`: moves an embedded
//! (SQLite) install into PostgreSQL, so replicas can serve it.
//!
//! * The source is opened read-only and read in one SQLite transaction (a
//!   consistent snapshot even while a server still runs on it). Module bytes
//!   come from `DATA_DIR/modules/{digest}.wasm`, each checked against its
//!   digest first; only modules some version refers to are moved.
//! * The PostgreSQL migrations run first; then everything is written in ONE
//!   PostgreSQL transaction, read back and verified in that transaction
//!   (row counts; digests of the sorted rows; module digests recomputed over
//!   the stored bytes; every invocation record present once), and committed
//!   only if it all matches: a failure leaves nothing half-moved. How each
//!   table is written so that running twice yields the same database is in
//!   [`target::copy`]. The tenants' generations are bumped and
//!   `docket_changes` notified in the same transaction, so running replicas
//!   reload them once it commits.
//! * SQLite is the source of truth for the tenants it holds: run this with
//!   the embedded server stopped and before replicas serve those tenants.
//!   Running it again replaces each migrated tenant's state in PostgreSQL
//!   with SQLite's (changes replicas made meanwhile are lost, but for their
//!   invocation records, which are kept); tenants only in PostgreSQL are
//!   left alone.
//! * Secrets move sealed, as they are: replicas must run with
//!   `DOCKET_SECRETS_KEY` set to the key that sealed them (the one in
//!   `DATA_DIR/secrets.key`, or `DOCKET_SECRETS_KEY` if this environment sets
//!   it). Every secret is opened with that key before anything is written,
//!   and the command says which key to use, without printing it.
//! * Compiled artifacts are not moved: they are authenticated with a key
//!   derived from the secrets key, and the first replica that needs a module
//!   compiles it once and shares the artifact through the database.

mod rows;
mod target;

use crate::registry::secrets::SecretBox;
use anyhow::{Context, bail};
use rows::{
    ActionRow, CredentialRow, InvocationRow, KvRow, ModuleRow, SecretRow, Table, TenantRow,
    VersionRow,
};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, FromRow, PgConnection, SqliteConnection};
use std::path::{Path, PathBuf};

/// Everything moved, read from the SQLite store.
struct Source {
    tenants: Vec<TenantRow>,
    credentials: Vec<CredentialRow>,
    /// Every module a version refers to, with its checked bytes.
    modules: Vec<(ModuleRow, Vec<u8>)>,
    actions: Vec<ActionRow>,
    versions: Vec<VersionRow>,
    secrets: Vec<SecretRow>,
    kv: Vec<KvRow>,
    /// In SQLite's order (oldest first).
    invocations: Vec<InvocationRow>,
}

impl Source {
    fn tenant_names(&self) -> Vec<String> {
        self.tenants.iter().map(|t| t.name.clone()).collect()
    }
}

/// Where the key sealing the secrets came from.
#[derive(Debug)]
enum KeySource {
    /// `DOCKET_SECRETS_KEY` in this environment.
    Environment,
    /// The key file beside the data directory (`DATA_DIR.secrets.key`), or
    /// an older install's `DATA_DIR/secrets.key`.
    File(PathBuf),
    /// Neither: the store never sealed anything.
    Missing,
}

/// Runs `docket migrate`: moves the store in `from` into the PostgreSQL
/// database at `to`, verifies it, and prints what was moved and what the
/// replicas need. See the module docs.
pub async fn run(from: &Path, to: &str) -> anyhow::Result<()> {
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL (postgres://… or postgresql://…)");
    }
    let db_path = from.join("docket.db");
    if !db_path.is_file() {
        bail!(
            "{} has no docket.db: --from must be the --data-dir of a Docket server using the embedded store",
            from.display()
        );
    }
    let source = read_source(from, &db_path).await?;
    let key = check_secrets(from, &source.secrets)?;

    // The URL may hold a password: errors name the database, never the URL.
    let mut pg = PgConnection::connect(to)
        .await
        .context("connecting to PostgreSQL (--to)")?;
    sqlx::migrate!("./migrations-postgres")
        .run(&mut pg)
        .await
        .context("running the PostgreSQL migrations")?;
    let mut tx = pg.begin().await?;
    target::copy(&mut tx, &source).await?;
    let checked = target::verify(&mut tx, &source).await?;
    print_table(from, &checked);
    target::require_all_same(&checked)?;
    tx.commit().await.context("committing the migration")?;

    crate::outln!("verified: counts and digests match");
    crate::outln!(
        "compiled artifacts: not migrated; replicas compile each module once and share it through the database"
    );
    match key {
        KeySource::Environment => crate::outln!(
            "secrets: moved sealed; DOCKET_SECRETS_KEY was used (it is set in this environment): \
             run every replica with that same DOCKET_SECRETS_KEY"
        ),
        KeySource::File(path) => crate::outln!(
            "secrets: moved sealed with the key in {path}; set DOCKET_SECRETS_KEY to the 64 hex digits of {path} \
             (e.g. `xxd -p -c 64 {path}`) on every replica",
            path = path.display()
        ),
        KeySource::Missing => crate::outln!(
            "secrets: none sealed; run every replica with the same DOCKET_SECRETS_KEY (e.g. from `openssl rand -hex 32`)"
        ),
    }
    Ok(())
}

/// Reads every migrated row in one read transaction of a read-only
/// connection, and each referenced module's bytes, checked against its digest.
async fn read_source(from: &Path, db_path: &Path) -> anyhow::Result<Source> {
    let options = SqliteConnectOptions::new()
        .filename(db_path)
        .read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {} read-only", db_path.display()))?;
    check_schema(&mut conn, db_path).await?;
    let mut tx = conn.begin().await?;
    let module_rows: Vec<ModuleRow> = sqlx::query_as(
        "SELECT digest, size, abi, created_ms FROM modules \
         WHERE digest IN (SELECT module FROM versions) ORDER BY digest",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut source = Source {
        tenants: load(&mut tx).await?,
        credentials: load(&mut tx).await?,
        modules: Vec::with_capacity(module_rows.len()),
        actions: load(&mut tx).await?,
        versions: load(&mut tx).await?,
        secrets: load(&mut tx).await?,
        kv: load(&mut tx).await?,
        invocations: load(&mut tx).await?,
    };
    tx.rollback().await?;
    source.invocations.sort_by_key(|r| r.id);
    // PostgreSQL text cannot hold NUL; a guest's stderr can (as PgStore does).
    for record in &mut source.invocations {
        if let Some(stderr) = &mut record.stderr {
            *stderr = stderr.replace('\0', "\u{fffd}");
        }
    }
    for row in module_rows {
        let bytes = module_bytes(from, &row)?;
        source.modules.push((row, bytes));
    }
    Ok(source)
}

/// A table's rows, every column the migration copies.
async fn load<T>(conn: &mut SqliteConnection) -> anyhow::Result<Vec<T>>
where
    T: Table + for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
{
    let sql = format!("SELECT {} FROM {}", T::COLUMNS.join(", "), T::NAME);
    sqlx::query_as(&sql)
        .fetch_all(conn)
        .await
        .with_context(|| format!("reading {} from SQLite", T::NAME))
}

/// Refuses a database whose schema is not the one this build writes: an
/// older one lacks columns this command copies, a newer one may hold more.
async fn check_schema(conn: &mut SqliteConnection, db_path: &Path) -> anyhow::Result<()> {
    let expected = sqlx::migrate!("./migrations")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0);
    let found: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("{} is not a Docket store", db_path.display()))?;
    if found != expected {
        bail!(
            "{} is at schema version {found}, this docket migrates version {expected}: \
             start `docket serve --data-dir` of this version on it once (it upgrades the schema), then migrate",
            db_path.display()
        );
    }
    Ok(())
}

/// A module's bytes from its file, refused unless they hash to its digest.
fn module_bytes(from: &Path, row: &ModuleRow) -> anyhow::Result<Vec<u8>> {
    let digest = &row.digest;
    // A digest is 64 hex digits; anything else must not become a path.
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("module {digest:?} in docket.db is not a SHA-256 digest");
    }
    let path = from.join("modules").join(format!("{digest}.wasm"));
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "module {digest}: its file {} cannot be read; nothing was migrated",
            path.display()
        )
    })?;
    if hex::encode(Sha256::digest(&bytes)) != *digest || bytes.len() as i64 != row.size {
        bail!(
            "module {digest}: the bytes in {} do not match its digest (corrupt file); nothing was migrated",
            path.display()
        );
    }
    Ok(bytes)
}

/// Finds the key the secrets are sealed with (as `docket serve` would:
/// `DOCKET_SECRETS_KEY` if set, else `secrets.key`, never creating it) and
/// checks that every secret opens with it: replicas given the wrong key
/// would silently lose them.
fn check_secrets(from: &Path, secrets: &[SecretRow]) -> anyhow::Result<KeySource> {
    let file = crate::registry::secrets::KeyFile::locate(None, from).path;
    let env = std::env::var("DOCKET_SECRETS_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    let (sealer, source) = if let Some(hex_key) = env.as_deref() {
        let sealer = SecretBox::load(Some(hex_key), &file)?;
        (Some(sealer), KeySource::Environment)
    } else if file.exists() {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", file.display()))?;
        (Some(SecretBox::new(key)), KeySource::File(file.clone()))
    } else {
        (None, KeySource::Missing)
    };
    let described = match &source {
        KeySource::Environment => "DOCKET_SECRETS_KEY".to_owned(),
        _ => file.display().to_string(),
    };
    for secret in secrets {
        let opens = sealer.as_ref().is_some_and(|s| {
            s.open(
                &secret.tenant,
                &secret.name,
                &secret.nonce,
                &secret.ciphertext,
            )
            .is_some()
        });
        if !opens {
            bail!(
                "secret {:?} of tenant {:?} does not open with {described}: DOCKET_SECRETS_KEY, if set, \
                 must be the key the server ran with (unset it to use {}); nothing was migrated",
                secret.name,
                secret.tenant,
                file.display()
            );
        }
    }
    Ok(source)
}

fn print_table(from: &Path, checked: &[target::Checked]) {
    crate::outln!("migrating {} into PostgreSQL", from.display());
    crate::outln!("  {:<12} {:>8} {:>10}", "table", "sqlite", "postgres");
    for line in checked {
        let mark = if line.same { "" } else { "  DIFFERS" };
        crate::outln!(
            "  {:<12} {:>8} {:>10}{mark}",
            line.table,
            line.sqlite,
            line.postgres
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(dir: &Path, bytes: &[u8]) -> ModuleRow {
        let digest = hex::encode(Sha256::digest(bytes));
        std::fs::create_dir_all(dir.join("modules")).unwrap();
        std::fs::write(dir.join("modules").join(format!("{digest}.wasm")), bytes).unwrap();
        ModuleRow {
            digest,
            size: bytes.len() as i64,
            abi: "command".into(),
            created_ms: 0,
        }
    }

    #[test]
    fn module_files_must_hash_to_their_digest() {
        let dir = tempfile::tempdir().unwrap();
        let row = module(dir.path(), b"\0asm\x01\0\0\0");
        assert_eq!(module_bytes(dir.path(), &row).unwrap(), b"\0asm\x01\0\0\0");

        let path = dir
            .path()
            .join("modules")
            .join(format!("{}.wasm", row.digest));
        std::fs::write(&path, b"\0asm\x01\0\0\x01").unwrap();
        let err = module_bytes(dir.path(), &row).unwrap_err().to_string();
        assert!(
            err.contains(&row.digest) && err.contains("corrupt"),
            "{err}"
        );

        std::fs::remove_file(&path).unwrap();
        let err = format!("{:#}", module_bytes(dir.path(), &row).unwrap_err());
        assert!(
            err.contains(&row.digest) && err.contains("cannot be read"),
            "{err}"
        );

        let traversal = ModuleRow {
            digest: "../../etc/passwd".into(),
            ..row
        };
        assert!(module_bytes(dir.path(), &traversal).is_err());
    }

    #[test]
    fn secrets_must_open_with_the_key_file() {
        // The key in the environment would win over the file: this test needs it unset.
        if std::env::var_os("DOCKET_SECRETS_KEY").is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_secrets(dir.path(), &[]).unwrap(),
            KeySource::Missing
        ));
        let key: [u8; 32] = rand::random();
        std::fs::write(dir.path().join("secrets.key"), key).unwrap();
        let (nonce, ciphertext) = SecretBox::new(key).seal("acme", "token", b"value");
        let sealed = SecretRow {
            tenant: "acme".into(),
            name: "token".into(),
            nonce,
            ciphertext,
            updated_ms: 0,
        };
        let source = check_secrets(dir.path(), std::slice::from_ref(&sealed)).unwrap();
        assert!(matches!(source, KeySource::File(p) if p == dir.path().join("secrets.key")));

        // Moved to another tenant, the ciphertext no longer opens.
        let moved = SecretRow {
            tenant: "globex".into(),
            ..sealed
        };
        let err = check_secrets(dir.path(), &[moved]).unwrap_err().to_string();
        assert!(err.contains("does not open"), "{err}");
    }
}
