//! Integration tests of utrust-core: the store conformance suite (run against
//! every store) and engine tests on both stores with honest test doubles for the
//! CA and the request inspector.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

/// Instantiates every check (an `async fn(Arc<dyn Store>)` of the invoking
/// module) for every store. Defined before the modules so that all of them see it.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = crate::support::memory();
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite_memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = crate::support::sqlite_memory().await;
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite_file {
            $(
                #[tokio::test]
                async fn $name() {
                    let f = crate::support::sqlite_file().await;
                    super::$name(f.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    // A fresh schema per test; SKIPPED without a test database.
                    if let Some(f) = crate::support::postgres().await {
                        super::$name(f.store.clone()).await;
                    }
                }
            )*
        }
    };
}

mod accounts;
mod case_engine;
mod case_file;
mod conformance;
mod devices;
#[cfg(feature = "sqlite")]
mod differential;
mod doubles;
mod engine;
mod head_accounts;
mod lifecycle;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod support;
