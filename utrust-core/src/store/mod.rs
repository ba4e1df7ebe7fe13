//! Implementations of the [`Store`](crate::ports::Store) port: in memory, SQLite
//! behind the `sqlite` feature and PostgreSQL behind `postgres`. The SQL lives only here.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
