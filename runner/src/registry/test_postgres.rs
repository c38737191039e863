//! A fresh PostgreSQL database per test, on the server `DOCKET_TEST_POSTGRES`
//! names (default: the local one, database `test`), dropped afterwards.

use super::Quotas;
use super::postgres::PgStore;
use super::secrets::SecretBox;
use sqlx::Connection;
use std::sync::Arc;

/// Where the tests' databases are created.
pub(crate) fn server_url() -> String {
    std::env::var("DOCKET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned())
}

/// A database that exists for one test; dropped (forcibly) on drop.
pub(crate) struct TestDatabase {
    name: String,
    /// Its URL.
    pub(crate) url: String,
    /// Scratch space for the store's artifact cache.
    pub(crate) scratch: tempfile::TempDir,
}

impl TestDatabase {
    /// Creates an empty database.
    pub(crate) async fn create() -> Self {
        let server = server_url();
        let name = format!("docket_unit_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut admin = sqlx::PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server} (DOCKET_TEST_POSTGRES): {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Self {
            url: format!("{base}/{name}"),
            name,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    /// A store over this database.
    pub(crate) async fn open(&self) -> Arc<PgStore> {
        PgStore::open(
            &self.url,
            self.scratch.path(),
            Quotas::default(),
            SecretBox::new([7; 32]),
        )
        .await
        .unwrap()
    }

    /// A store as a replica on another machine would open it: its own empty
    /// scratch directory (returned, to keep it alive) and the given key.
    pub(crate) async fn open_elsewhere(&self, key: [u8; 32]) -> (Arc<PgStore>, tempfile::TempDir) {
        let scratch = tempfile::tempdir().unwrap();
        let store = PgStore::open(
            &self.url,
            scratch.path(),
            Quotas::default(),
            SecretBox::new(key),
        )
        .await
        .unwrap();
        (store, scratch)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we could use: a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server_url()).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}
