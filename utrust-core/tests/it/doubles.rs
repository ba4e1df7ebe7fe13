//! The test request format shared by the engine tests: a stand-in for PKCS#10
//! (the core cannot depend on `utrust-pki`), honest about what it checks — the
//! checksum plays the signature, so a tampered body is a bad signature.

use serde::{Deserialize, Serialize};
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::request::{
    InspectedRequest, RequestTemplate, RequestedExtensions, SubjectAttribute,
};
use utrust_core::ports::{CsrRejection, RequestInspector};

/// The test request format: `TESTCSR1:<fnv64 of body, 16 hex>:<JSON body>`.
#[derive(Serialize, Deserialize)]
pub struct TestRequest {
    pub key_algorithm: KeyAlgorithm,
    pub subject: Vec<SubjectAttribute>,
    pub extensions: RequestedExtensions,
}

pub const PREFIX: &str = "TESTCSR1:";

pub fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Encodes a test request that fits `template`.
pub fn test_csr(template: &RequestTemplate) -> Vec<u8> {
    let body = serde_json::to_string(&TestRequest {
        key_algorithm: template.key_algorithm,
        subject: template.subject.clone(),
        extensions: template.extensions.clone(),
    })
    .unwrap();
    format!("{PREFIX}{:016x}:{body}", fnv64(body.as_bytes())).into_bytes()
}

/// Parses the test format; a wrong checksum is a bad signature.
pub struct TestInspector;

impl RequestInspector for TestInspector {
    fn inspect(&self, bytes: &[u8]) -> Result<InspectedRequest, CsrRejection> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| CsrRejection::Malformed("not UTF-8".into()))?;
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| CsrRejection::Malformed("not a test request".into()))?;
        let (sum, body) = rest
            .split_once(':')
            .ok_or_else(|| CsrRejection::Malformed("no checksum".into()))?;
        let sum = u64::from_str_radix(sum, 16)
            .map_err(|_| CsrRejection::Malformed("bad checksum".into()))?;
        if sum != fnv64(body.as_bytes()) {
            return Err(CsrRejection::BadSignature);
        }
        let req: TestRequest =
            serde_json::from_str(body).map_err(|e| CsrRejection::Malformed(e.to_string()))?;
        Ok(InspectedRequest {
            der: bytes.to_vec(),
            key_algorithm: req.key_algorithm,
            subject: req.subject,
            extensions: req.extensions,
        })
    }
}
