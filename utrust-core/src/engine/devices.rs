//! Hardware-token self-service (issue #6): device policy, secret questions,
//! two-stage issuance onto a token, loss and end of life, the crypto-means journal.
