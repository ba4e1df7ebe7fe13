//! Self-service devices (`/me/devices`, `/me/secret-questions`) and their administration.
