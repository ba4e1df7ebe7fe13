//! HTTP tests of `utrust-server`: the router without a socket (`tower::oneshot`
//! on an embedded engine), and external checks over a real socket with the
//! Python client, `openssl` and the `demo` command.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod accounts;
mod auth;
mod authz;
mod bulk;
mod case_file;
mod csr;
mod demo_device;
mod demo_lifecycle;
mod demo_openssl;
mod devices;
mod external;
mod flow;
mod lifecycle;
mod multi_server;
mod notifications;
mod ops;
mod quota;
mod reminders;
mod robustness;
mod schemathesis;
mod smev_checks;
mod validation;
