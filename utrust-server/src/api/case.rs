//! The application's case file: files, signatures, confirmation, payment, ЕСИА, completion.
