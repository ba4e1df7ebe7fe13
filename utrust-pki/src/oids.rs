//! Object identifiers used by this crate, in one place so that the encoder, the
//! parser and the verifier cannot disagree about them.

use const_oid::ObjectIdentifier as O;

/// id-ecPublicKey (RFC 5480).
pub const EC_PUBLIC_KEY: O = O::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / P-256.
pub const P256: O = O::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1 / P-384.
pub const P384: O = O::new_unwrap("1.3.132.0.34");
/// id-Ed25519 (RFC 8410), both key and signature algorithm.
pub const ED25519: O = O::new_unwrap("1.3.101.112");
/// rsaEncryption.
pub const RSA_ENCRYPTION: O = O::new_unwrap("1.2.840.113549.1.1.1");
/// sha256WithRSAEncryption.
pub const SHA256_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.11");
/// sha384WithRSAEncryption.
pub const SHA384_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.12");
/// sha512WithRSAEncryption.
pub const SHA512_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.13");
/// ecdsa-with-SHA256.
pub const ECDSA_SHA256: O = O::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384.
pub const ECDSA_SHA384: O = O::new_unwrap("1.2.840.10045.4.3.3");
/// GOST R 34.10-2012 public key, 256 bits.
pub const GOST2012_256: O = O::new_unwrap("1.2.643.7.1.1.1.1");
/// GOST R 34.10-2012 public key, 512 bits.
pub const GOST2012_512: O = O::new_unwrap("1.2.643.7.1.1.1.2");
/// PKCS#9 extensionRequest.
pub const EXTENSION_REQUEST: O = O::new_unwrap("1.2.840.113549.1.9.14");
/// basicConstraints.
pub const BASIC_CONSTRAINTS: O = O::new_unwrap("2.5.29.19");
/// keyUsage.
pub const KEY_USAGE: O = O::new_unwrap("2.5.29.15");
/// extendedKeyUsage.
pub const EXTENDED_KEY_USAGE: O = O::new_unwrap("2.5.29.37");
/// certificatePolicies.
pub const CERTIFICATE_POLICIES: O = O::new_unwrap("2.5.29.32");
/// subjectKeyIdentifier.
pub const SUBJECT_KEY_IDENTIFIER: O = O::new_unwrap("2.5.29.14");
/// authorityKeyIdentifier.
pub const AUTHORITY_KEY_IDENTIFIER: O = O::new_unwrap("2.5.29.35");
/// cRLNumber (RFC 5280 §5.2.3).
pub const CRL_NUMBER: O = O::new_unwrap("2.5.29.20");
/// reasonCode, the CRL entry extension (RFC 5280 §5.3.1).
pub const CRL_REASON: O = O::new_unwrap("2.5.29.21");
