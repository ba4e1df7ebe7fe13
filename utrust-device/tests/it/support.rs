//! Isolation (a child process per SoftHSM test), tool runners, a request template.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::{
    KeyUsage, RequestTemplate, RequestedExtensions, StringType, SubjectAttribute,
};

pub const CHILD_ENV: &str = "UTRUST_IT_CHILD";

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The PKCS#11 module to test (`UTRUST_TEST_PKCS11_MODULE`, else Debian's SoftHSM2).
pub fn module_path() -> String {
    std::env::var("UTRUST_TEST_PKCS11_MODULE")
        .unwrap_or_else(|_| utrust_device::SOFTHSM2_MODULE.to_owned())
}

fn tool_runs(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success() || !o.stdout.is_empty() || !o.stderr.is_empty())
        .unwrap_or(false)
}

/// Whether SoftHSM2, softhsm2-util, pkcs11-tool and openssl are usable. Under
/// `CI=true` their absence fails the test; elsewhere the test prints SKIPPED.
pub fn have_token_tools() -> bool {
    let mut missing = Vec::new();
    if !Path::new(&module_path()).exists() {
        missing.push(module_path());
    }
    for (cmd, arg) in [
        ("softhsm2-util", "--version"),
        ("pkcs11-tool", "--help"),
        ("openssl", "version"),
    ] {
        if !tool_runs(cmd, arg) {
            missing.push(cmd.to_owned());
        }
    }
    if missing.is_empty() {
        return true;
    }
    if ci() {
        panic!("required under CI=true but missing: {missing:?}");
    }
    eprintln!("SKIPPED: missing {missing:?} (set CI=true to make this fatal)");
    false
}

/// The child's environment: its token directory and config.
pub struct Isolated {
    pub dir: PathBuf,
}

impl Isolated {
    pub fn module(&self) -> utrust_device::Pkcs11Module {
        utrust_device::Pkcs11Module::open(module_path()).expect("open PKCS#11 module")
    }
}

/// Runs the calling test in a child process with a fresh `SOFTHSM2_CONF`.
///
/// In the parent: creates the config, re-executes this binary for `name`
/// only, asserts that it passed, and returns `None`. In the child: returns the
/// environment to run the body in. `name` is the libtest name (`mod::fn`).
pub fn isolated(name: &str) -> Option<Isolated> {
    if let Ok(child) = std::env::var(CHILD_ENV) {
        if child == name {
            let dir = PathBuf::from(std::env::var("UTRUST_IT_DIR").expect("UTRUST_IT_DIR"));
            return Some(Isolated { dir });
        }
        return None; // another test's child: nothing to do here
    }
    if !have_token_tools() {
        return None;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let tokens = tmp.path().join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .env("UTRUST_IT_DIR", tmp.path())
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .expect("re-run the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {name} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "child {name} ran no test (wrong name?):\n{text}"
    );
    None
}

/// Runs a command; returns (success, stdout + stderr).
pub fn run(cmd: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let out: Output = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs a command and asserts success.
pub fn run_ok(cmd: &str, args: &[&str], dir: &Path) -> String {
    let (ok, text) = run(cmd, args, dir);
    assert!(ok, "{cmd} {args:?} failed:\n{text}");
    text
}

pub fn attr(oid: &str, value: &str, string_type: StringType) -> SubjectAttribute {
    SubjectAttribute {
        oid: Oid::parse(oid).unwrap(),
        value: value.to_owned(),
        string_type,
    }
}

/// A natural person's request template for a P-256 key.
pub fn person_template() -> RequestTemplate {
    RequestTemplate {
        key_algorithm: KeyAlgorithm::EcdsaP256,
        subject: vec![
            attr("2.5.4.6", "RU", StringType::Printable),
            attr("2.5.4.3", "Иванов Иван Иванович", StringType::Utf8),
            attr("1.2.643.100.3", "11223344595", StringType::Numeric),
            attr("1.2.840.113549.1.9.1", "ivanov@example.ru", StringType::Ia5),
        ],
        extensions: RequestedExtensions {
            key_usage: vec![KeyUsage::DigitalSignature, KeyUsage::NonRepudiation],
            extended_key_usage: vec![Oid::parse("1.3.6.1.5.5.7.3.2").unwrap()],
            certificate_policies: vec![],
        },
    }
}

/// Writes PEM with `label` to `path`.
pub fn write_pem(path: &Path, label: &str, der: &[u8]) {
    std::fs::write(path, utrust_pki::to_pem(label, der)).unwrap();
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
