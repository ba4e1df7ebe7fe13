//! Integration tests of utrust-pki. Everything we emit is also checked by OpenSSL
//! (`openssl` must be on PATH; under `CI=true` its absence fails the run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod ca;
mod cms;
mod crl;
mod inspect;
mod keys;
mod request;
mod support;
