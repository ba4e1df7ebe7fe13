//! utrust-device
