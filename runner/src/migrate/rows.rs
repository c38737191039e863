//! The rows `docket migrate` copies, one struct per table, decodable from
//! both databases: the same struct read from SQLite and from PostgreSQL is
//! what the verification compares (SQLite's INTEGER flags decode as `bool`,
//! like PostgreSQL's BOOLEAN).

use sqlx::Postgres;
use sqlx::query_builder::Separated;

/// A table copied row for row: its name, the column naming its tenant, its
/// columns (the struct's fields, in order) and how a row binds its values.
pub(super) trait Table {
    /// The table's name, the same in both schemas.
    const NAME: &'static str;
    /// The column holding the owning tenant's name.
    const TENANT: &'static str;
    /// The copied columns, in field order.
    const COLUMNS: &'static [&'static str];
    /// Binds this row's values, in [`Table::COLUMNS`] order.
    fn bind(&self, values: &mut Separated<'_, '_, Postgres, &'static str>);
}

/// Declares a row struct and its [`Table`] impl from one field list, so the
/// columns, the struct and the binds cannot drift apart.
macro_rules! table {
    ($(#[$doc:meta])* $row:ident = $table:literal by $tenant:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
        pub(super) struct $row {
            $(pub(super) $field: $ty),*
        }

        impl Table for $row {
            const NAME: &'static str = $table;
            const TENANT: &'static str = $tenant;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];
            fn bind(&self, values: &mut Separated<'_, '_, Postgres, &'static str>) {
                $(values.push_bind(self.$field.clone());)*
            }
        }
    };
}

table! {
    /// A tenant with its quota overrides (the generation is PostgreSQL's own).
    TenantRow = "tenants" by "name" {
        name: String,
        display_name: Option<String>,
        failure_word: String,
        suspended: bool,
        declarative: bool,
        max_concurrency: Option<i64>,
        max_actions: Option<i64>,
        max_module_bytes: Option<i64>,
        max_storage_bytes: Option<i64>,
        max_versions: Option<i64>,
        created_ms: i64,
        uid: String,
    }
}

table! {
    /// An admin token's or webhook key's hash, as stored.
    CredentialRow = "credentials" by "tenant" {
        id: String,
        tenant: String,
        kind: String,
        hash: String,
        hint: String,
        created_ms: i64,
    }
}

table! {
    /// An action and its live version.
    ActionRow = "actions" by "tenant" {
        tenant: String,
        name: String,
        live_version: i64,
    }
}

table! {
    /// One version of an action, every column.
    VersionRow = "versions" by "tenant" {
        tenant: String,
        action: String,
        version: i64,
        module: String,
        display_name: String,
        manifest: String,
        limits: String,
        config: String,
        secrets: String,
        grants: String,
        created_ms: i64,
    }
}

table! {
    /// A sealed secret: nonce and ciphertext as they are, under the same key.
    SecretRow = "secrets" by "tenant" {
        tenant: String,
        name: String,
        nonce: Vec<u8>,
        ciphertext: Vec<u8>,
        updated_ms: i64,
    }
}

table! {
    /// A key-value entry.
    KvRow = "kv" by "tenant" {
        tenant: String,
        scope: String,
        key: String,
        value: Vec<u8>,
        updated_ms: i64,
    }
}

table! {
    /// An invocation record; `id` is SQLite's, only to keep the order (the
    /// PostgreSQL rows get ids of their own, in the same order); `seq`, its
    /// number within its tenant, is copied as it is.
    InvocationRow = "invocations" by "tenant" {
        id: i64,
        tenant: String,
        seq: i64,
        action: String,
        version: i64,
        request_id: String,
        at_ms: i64,
        outcome: String,
        duration_ms: i64,
        limit_hit: Option<String>,
        stderr: Option<String>,
        detail: Option<String>,
    }
}

/// A module's record; its bytes come from the module file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct ModuleRow {
    pub(super) digest: String,
    pub(super) size: i64,
    pub(super) abi: String,
    pub(super) created_ms: i64,
}
