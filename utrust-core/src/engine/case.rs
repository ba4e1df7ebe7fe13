//! The application's case file (issue #8): documents and their signatures,
//! issuance confirmation, payment, ЕСИА registration, completion.
