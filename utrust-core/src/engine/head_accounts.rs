//! Head accounts (found by INN/KPP), power of attorney, notifications (issue #8).
