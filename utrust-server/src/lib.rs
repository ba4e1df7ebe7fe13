//! # utrust-server
//!
//! The reference server of utrust: the HTTP API of DESIGN §7 on the engine, and
//! the CLI (`serve`, `demo`, `migrate`). Domain errors become HTTP responses only
//! here; handlers hold no business rules.
//!
//! Embedded default: a SQLite database and a local CA under `--data-dir`
//! (default `./utrust-data`), created on first start.

pub mod bootstrap;
pub mod config;
pub mod demo;
pub mod documents;
pub mod maintenance;
pub mod metrics;
pub mod notify;

mod api;

pub use api::{AppState, DEFAULT_REQUEST_TIMEOUT, MAX_BODY_BYTES, request_id, router};
