//! utrust-pki
