//! Units of work: one transaction each (READ COMMITTED), run again from the
//! start when PostgreSQL aborts it with a serialization failure or a deadlock.

use std::future::Future;
use std::time::Duration;

use super::error::Result;

/// Extra attempts after a transient failure.
pub(super) const RETRIES: u32 = 4;

/// Pins the output type of a unit of work's `async` block, so `?` inside it
/// converts into [`Failure`](super::error::Failure).
pub(super) fn work<T, F: Future<Output = Result<T>>>(f: F) -> F {
    f
}

/// Waits before attempt `attempt` (1, 2, …): 5, 10, 20, 40 ms.
pub(super) async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(5 << attempt.min(6).saturating_sub(1))).await;
}

/// `transaction!(pool, |conn| async { … })`: runs the block with
/// `conn: &mut PgConnection` inside a transaction, commits when it returns `Ok`,
/// rolls back otherwise, and runs it again (up to [`RETRIES`] times) after a
/// transient failure. Evaluates to `Result<T, StoreError>`.
macro_rules! transaction {
    ($pool:expr, |$conn:ident| $body:expr) => {{
        use $crate::store::postgres::error::Failure;
        let mut attempt: u32 = 0;
        loop {
            let outcome: $crate::store::postgres::error::Result<_> = async {
                let mut tx = $pool.begin().await?;
                let value = {
                    let $conn: &mut ::sqlx::PgConnection = &mut *tx;
                    $crate::store::postgres::tx::work($body).await
                };
                match value {
                    Ok(v) => {
                        tx.commit().await?;
                        Ok(v)
                    }
                    Err(e) => {
                        // The error that matters is `e`; a failed rollback is also
                        // undone when the connection is returned to the pool.
                        tx.rollback().await.ok();
                        Err(e)
                    }
                }
            }
            .await;
            match outcome {
                Err(Failure::Transient(_)) if attempt < $crate::store::postgres::tx::RETRIES => {
                    attempt += 1;
                    $crate::store::postgres::tx::backoff(attempt).await;
                }
                other => break other.map_err($crate::ports::StoreError::from),
            }
        }
    }};
}

pub(super) use transaction;
