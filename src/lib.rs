//! utrust facade.
pub use utrust_core as core;
