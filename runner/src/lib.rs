//! # Docket
//!
//! Docket runs custom document actions for Adobe Workfront's Document Webhooks
//! API as sandboxed WebAssembly, for many tenants in one service.
//!
//! # Layout
//!
//! The layers, each importing only those below it (the full map is
//! `docs/architecture.md#modules-and-layering`; `tests/layers.rs` enforces
//! it):
//!
//! ```text
//! http (routes, accept loop, admin extractors; answers become responses)
//!   └─ invocation (the one pipeline: authenticate, admit, load, plan, run, word, record)
//!        └─ app (shared state, tenant gates and lifetimes, module cache, deployments)
//!             ├─ registry (storage traits per concern; SQLite in registry::sqlite,
//!             │            PostgreSQL in registry::postgres) · compiles (fair compile capacity)
//!             ├─ engine (wasmtime, ABIs, limits, compile worker, CPU turns) · manifest
//!             └─ capabilities (one module per capability)
//! ```
//!
//! * [`http`]: the axum routes Workfront calls (`/t/{tenant}/serviceInfo`,
//!   `/t/{tenant}/customAction`), the admin API, Docket's own accept loop, and
//!   the one place errors become responses.
//! * [`invocation`]: the one pipeline from a Workfront call to its answer:
//!   authenticate, resolve the endpoint, admit, load, plan, run, word the
//!   answer, record. `docket invoke` shares its plan, run and wording steps.
//! * [`app`]: the shared state joining the layers below: engine, store,
//!   compiled modules, per-tenant gates, and deployments (deploy, rollback,
//!   delete, with pruning in one place).
//! * [`engine`]: wasmtime setup, both guest ABIs, limits, static checks, the
//!   compile worker process, CPU turns. Knows nothing of HTTP or storage.
//! * [`capabilities`]: what actions may reach when granted, one module each:
//!   outbound HTTP to allow-listed hosts (SSRF-guarded), key-value, config.
//! * [`registry`]: tenants, credentials, secrets, versions, blobs and the
//!   invocation log behind traits; SQLite with module blobs on disk, or
//!   PostgreSQL shared by replicas (`registry::postgres`). Knows nothing of
//!   wasmtime.
//! * [`compiles`]: compile capacity shared fairly between tenants.
//! * [`metrics`]: Prometheus metrics, their labels capped per (tenant, action).
//! * [`wasm_pool`]: the threads guests run on, apart from the HTTP threads.
//! * [`telemetry`]: OpenTelemetry traces over OTLP (off unless configured).
//! * [`manifest`], [`names`], [`limits`]: the declarative formats and the checked
//!   values they produce.
//! * [`declarative`]: `serve --manifests DIR`, manifests synced into the store.
//! * [`client`]: the CLI's client of the admin and webhook APIs.
//! * [`config`]: command-line and environment settings.
//! * [`terminal`]: the CLI's output (quiet on a closed pipe) and its y/N prompt.
//! * [`scaffold`]: `docket new`, projects from the embedded templates.
//! * [`local_run`]: one invocation on this machine, outside any server
//!   (`docket invoke`, `docket replay`), through [`invocation`]'s plan, run
//!   and wording steps.
//! * [`migrate`]: `docket migrate`, an embedded (SQLite) install moved into
//!   PostgreSQL.

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
pub mod local_run;
pub mod manifest;
pub mod metrics;
pub mod migrate;
pub mod names;
pub mod oauth;
pub mod registry;
pub mod scaffold;
pub mod telemetry;
pub mod terminal;
pub mod wasm_pool;
