//! Shared helpers: a Russian natural-person template and an OpenSSL runner.

use std::path::Path;
use std::process::{Command, Output};

use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::{
    KeyUsage, RequestTemplate, RequestedExtensions, StringType, SubjectAttribute,
};

pub fn attr(oid: &str, value: &str, string_type: StringType) -> SubjectAttribute {
    SubjectAttribute {
        oid: Oid::parse(oid).unwrap(),
        value: value.to_owned(),
        string_type,
    }
}

pub fn oid(s: &str) -> Oid {
    Oid::parse(s).unwrap()
}

/// A natural person (ФЛ) with SNILS, INN, OGRN and e-mail.
pub fn person_template(key_algorithm: KeyAlgorithm) -> RequestTemplate {
    RequestTemplate {
        key_algorithm,
        subject: vec![
            attr("2.5.4.6", "RU", StringType::Printable),
            attr("2.5.4.8", "77 г. Москва", StringType::Utf8),
            attr("2.5.4.3", "Иванов Иван Иванович", StringType::Utf8),
            attr("2.5.4.4", "Иванов", StringType::Utf8),
            attr("2.5.4.42", "Иван Иванович", StringType::Utf8),
            attr("1.2.643.100.3", "11223344595", StringType::Numeric),
            attr("1.2.643.3.131.1.1", "500100732259", StringType::Numeric),
            attr("1.2.643.100.1", "1027700132195", StringType::Numeric),
            attr("1.2.840.113549.1.9.1", "ivanov@example.ru", StringType::Ia5),
        ],
        extensions: RequestedExtensions {
            key_usage: vec![KeyUsage::DigitalSignature, KeyUsage::NonRepudiation],
            extended_key_usage: vec![oid("1.3.6.1.5.5.7.3.2"), oid("1.2.643.2.2.34.6")],
            certificate_policies: vec![oid("1.2.643.100.113.1")],
        },
    }
}

/// Whether OpenSSL can be run. Without it the caller skips — except under
/// `CI=true`, where a missing OpenSSL is a failure, never a skip.
pub fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("openssl is required under CI=true but cannot be run");
        }
        eprintln!("SKIPPED: openssl not found (set CI=true to make this fatal)");
    }
    ok
}

/// Runs `openssl args…` in `dir`, returns the output (does not check status).
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl")
}

/// Runs OpenSSL and asserts success; returns stdout + stderr as text.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

/// Whether `python3` with the `cryptography` package can be run. Without it the
/// caller skips — except under `CI=true`, where its absence is a failure.
pub fn have_python_cryptography() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import cryptography.x509"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("python3 with `cryptography` is required under CI=true but cannot be run");
        }
        eprintln!("SKIPPED: python3 + cryptography not found (set CI=true to make this fatal)");
    }
    ok
}

/// Runs `python3 -c script args…` in `dir` and asserts success; returns stdout.
pub fn python_ok(dir: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .current_dir(dir)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python3 failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
