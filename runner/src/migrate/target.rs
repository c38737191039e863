//! The PostgreSQL side of `docket migrate`: writing the source's rows inside
//! one transaction, and reading them back to verify.

use super::Source;
use super::rows::{
    ActionRow, CredentialRow, InvocationRow, KvRow, SecretRow, Table, TenantRow, VersionRow,
};
use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use std::collections::BTreeSet;

/// The channel replicas reload changed tenants on (`registry::postgres`).
const CHANGES_CHANNEL: &str = "docket_changes";

/// PostgreSQL accepts at most 65535 bind parameters per statement.
const MAX_BINDS: usize = 60_000;

/// Copies everything in `source` (whose module bytes are already checked)
/// into the transaction `tx`.
///
/// Tenants are upserted (their generation bumped, so running replicas see
/// the change); everything a migrated tenant owns except its invocation
/// history is deleted and inserted afresh, so the tenant ends up exactly as
/// in SQLite however often this runs (a key revoked in SQLite since an
/// earlier run is gone from PostgreSQL too). Modules are content-addressed:
/// `ON CONFLICT DO NOTHING`. Invocations are history that replicas may have
/// added to since: a record is inserted unless the tenant already has one
/// with the same request id and time.
pub(super) async fn copy(tx: &mut PgConnection, source: &Source) -> anyhow::Result<()> {
    let names = source.tenant_names();
    let updates: Vec<String> = TenantRow::COLUMNS[1..]
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let upsert = format!(
        " ON CONFLICT (name) DO UPDATE SET {}, generation = nextval('docket_generation')",
        updates.join(", ")
    );
    insert(tx, &source.tenants, &insert_into::<TenantRow>(), &upsert).await?;
    // Deleting actions deletes their versions.
    for table in ["credentials", "secrets", "kv", "actions"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant = ANY($1)"))
            .bind(&names)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("clearing {table} of the migrated tenants"))?;
    }
    for (module, bytes) in &source.modules {
        sqlx::query(
            "INSERT INTO modules (digest, size, abi, bytes, created_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&module.digest)
        .bind(module.size)
        .bind(&module.abi)
        .bind(bytes)
        .bind(module.created_ms)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("inserting module {}", module.digest))?;
    }
    insert(tx, &source.actions, &insert_into::<ActionRow>(), "").await?;
    insert(tx, &source.versions, &insert_into::<VersionRow>(), "").await?;
    insert(tx, &source.credentials, &insert_into::<CredentialRow>(), "").await?;
    insert(tx, &source.secrets, &insert_into::<SecretRow>(), "").await?;
    insert(tx, &source.kv, &insert_into::<KvRow>(), "").await?;

    // SQLite's ids only order the rows: PostgreSQL numbers them anew, in the same order.
    let copied = &InvocationRow::COLUMNS[1..];
    let prefix = format!(
        "INSERT INTO invocations ({cols}) SELECT {cols} FROM (",
        cols = copied.join(", ")
    );
    let suffix = format!(
        ") AS r({}) WHERE NOT EXISTS (SELECT 1 FROM invocations i WHERE i.tenant = r.tenant \
         AND i.request_id = r.request_id AND i.at_ms = r.at_ms) ORDER BY r.id",
        InvocationRow::COLUMNS.join(", ")
    );
    insert(tx, &source.invocations, &prefix, &suffix).await?;
    // Each tenant's next record follows its highest number, copied or
    // written by a replica since an earlier run: a counter never goes back.
    sqlx::query(
        "UPDATE tenants t SET invocation_seq = GREATEST(t.invocation_seq, \
         (SELECT COALESCE(MAX(seq), 0) FROM invocations i WHERE i.tenant = t.name)) \
         WHERE t.name = ANY($1)",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await
    .context("numbering the migrated tenants' next invocation records")?;

    // Delivered at commit, after the rows are visible.
    sqlx::query("SELECT pg_notify($1, name) FROM UNNEST($2::TEXT[]) AS t(name)")
        .bind(CHANGES_CHANNEL)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn insert_into<T: Table>() -> String {
    format!("INSERT INTO {} ({}) ", T::NAME, T::COLUMNS.join(", "))
}

/// Inserts `rows` as `prefix VALUES (…), (…) suffix`, as many rows per
/// statement as the bind limit allows.
async fn insert<T: Table>(
    tx: &mut PgConnection,
    rows: &[T],
    prefix: &str,
    suffix: &str,
) -> anyhow::Result<()> {
    for chunk in rows.chunks(MAX_BINDS / T::COLUMNS.len()) {
        let mut query = QueryBuilder::<Postgres>::new(prefix);
        query.push_values(chunk, |mut values, row| row.bind(&mut values));
        query.push(suffix);
        query
            .build()
            .execute(&mut *tx)
            .await
            .with_context(|| format!("inserting into {}", T::NAME))?;
    }
    Ok(())
}

/// One line of the verification table.
pub(super) struct Checked {
    /// The table.
    pub(super) table: &'static str,
    /// Rows in SQLite.
    pub(super) sqlite: usize,
    /// The matching rows in PostgreSQL.
    pub(super) postgres: usize,
    /// Whether the rows (or module digests) are the same on both sides.
    pub(super) same: bool,
}

/// Reads the migrated tenants back from `tx` and compares them with
/// `source`: row counts everywhere; a digest of the sorted rows for the
/// tables copied whole; the set of module digests, each recomputed over the
/// bytes PostgreSQL holds; and for invocations, that each SQLite record is
/// there exactly once.
pub(super) async fn verify(tx: &mut PgConnection, source: &Source) -> anyhow::Result<Vec<Checked>> {
    let names = source.tenant_names();
    let mut checked = vec![
        compare(tx, &names, &source.tenants).await?,
        compare(tx, &names, &source.credentials).await?,
    ];
    let digests: BTreeSet<String> = source
        .modules
        .iter()
        .map(|(m, _)| m.digest.clone())
        .collect();
    let wanted: Vec<&String> = digests.iter().collect();
    let found: BTreeSet<String> = sqlx::query_scalar(
        "SELECT digest FROM modules WHERE digest = ANY($1) AND encode(sha256(bytes), 'hex') = digest",
    )
    .bind(&wanted)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    checked.push(Checked {
        table: "modules",
        sqlite: digests.len(),
        postgres: found.len(),
        same: found == digests,
    });
    checked.push(compare(tx, &names, &source.actions).await?);
    checked.push(compare(tx, &names, &source.versions).await?);
    checked.push(compare(tx, &names, &source.secrets).await?);
    checked.push(compare(tx, &names, &source.kv).await?);
    let column =
        |f: fn(&InvocationRow) -> String| source.invocations.iter().map(f).collect::<Vec<_>>();
    let at_ms: Vec<i64> = source.invocations.iter().map(|r| r.at_ms).collect();
    let matched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invocations i JOIN UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[]) \
         AS s(tenant, request_id, at_ms) \
         ON i.tenant = s.tenant AND i.request_id = s.request_id AND i.at_ms = s.at_ms",
    )
    .bind(column(|r| r.tenant.clone()))
    .bind(column(|r| r.request_id.clone()))
    .bind(&at_ms)
    .fetch_one(&mut *tx)
    .await?;
    checked.push(Checked {
        table: "invocations",
        sqlite: source.invocations.len(),
        postgres: matched as usize,
        same: matched as usize == source.invocations.len(),
    });
    Ok(checked)
}

/// Compares a table's rows for the migrated tenants on both sides.
async fn compare<T>(tx: &mut PgConnection, names: &[String], rows: &[T]) -> anyhow::Result<Checked>
where
    T: Table + Ord + Clone + std::fmt::Debug + for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let theirs: Vec<T> = sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE {} = ANY($1)",
        T::COLUMNS.join(", "),
        T::NAME,
        T::TENANT
    ))
    .bind(names)
    .fetch_all(&mut *tx)
    .await
    .with_context(|| format!("reading {} back", T::NAME))?;
    Ok(Checked {
        table: T::NAME,
        sqlite: rows.len(),
        postgres: theirs.len(),
        same: rows.len() == theirs.len() && digest(rows.to_vec()) == digest(theirs),
    })
}

/// SHA-256 over the sorted rows, each in its `Debug` form (the same struct
/// on both sides, so the same text for the same values).
fn digest<T: Ord + std::fmt::Debug>(mut rows: Vec<T>) -> [u8; 32] {
    rows.sort();
    let mut hash = Sha256::new();
    for row in &rows {
        hash.update(format!("{row:?}\n").as_bytes());
    }
    hash.finalize().into()
}

/// Refuses a verification that found any difference.
pub(super) fn require_all_same(checked: &[Checked]) -> anyhow::Result<()> {
    let differing: Vec<&str> = checked
        .iter()
        .filter(|c| !c.same)
        .map(|c| c.table)
        .collect();
    if !differing.is_empty() {
        bail!(
            "verification failed: {} differ between SQLite and PostgreSQL; nothing was committed",
            differing.join(", ")
        );
    }
    Ok(())
}
