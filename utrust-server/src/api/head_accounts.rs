//! Head accounts (`/accounts`) and power-of-attorney documents.
