//! Integration tests: the HTTP client against the simulator over real HTTP on
//! 127.0.0.1 (one binary; durations in milliseconds).

mod checks;
mod idempotency;
mod retries;
mod support;
mod timeouts;
mod wire_http;
