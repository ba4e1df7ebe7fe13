//! Implementations of the [`Store`](crate::ports::Store) port: in memory, and
//! SQLite behind the `sqlite` feature. The SQL lives only here.

mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
