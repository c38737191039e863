//! # Docket
//!
//! Docket runs custom document actions for Adobe Workfront's Document Webhooks
//! API as sandboxed WebAssembly, for many tenants in one service.
//!
//! # Layout
//!
//! * [`http`]: the axum routes Workfront calls (`/t/{tenant}/serviceInfo`,
//!   `/t/{tenant}/customAction`) and the one place errors become responses.
//! * [`engine`]: wasmtime setup, both guest ABIs, limits. Knows nothing of HTTP
//!   or storage.
//! * [`registry`]: tenants, keys, actions and versions, stored in SQLite with
//!   module blobs on disk. Knows nothing of wasmtime.
//! * [`invocation`]: the one path from a request for an action to its run,
//!   for the webhook and `docket invoke` alike.
//! * [`app`]: the shared state joining them: engine, store, compiled modules,
//!   concurrency gates, the deploy path.
//! * [`capabilities`]: what actions may reach when granted: outbound HTTP to
//!   allow-listed hosts (SSRF-guarded) and a key-value store.
//! * [`client`]: the CLI's client of the admin and webhook APIs.
//! * [`compiles`]: compile capacity shared fairly between tenants.
//! * [`manifest`], [`names`], [`limits`]: the declarative formats and the checked
//!   values they produce.
//! * [`declarative`]: `serve --manifests DIR`, manifests synced into the store.
//! * [`config`]: command-line and environment settings.
//! * [`scaffold`]: `docket new`, projects from the embedded templates.
//! * [`wasm_pool`]: the threads guests run on, apart from the HTTP threads.

pub mod app;
pub mod capabilities;
pub mod client;
pub mod compiles;
pub mod config;
pub mod declarative;
pub mod engine;
pub mod http;
pub mod invocation;
pub mod limits;
pub mod manifest;
pub mod names;
pub mod registry;
pub mod scaffold;
pub mod wasm_pool;
