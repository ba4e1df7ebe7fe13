//! Assembling the engine on the embedded default: a SQLite database and a local
//! CA under the data directory, the OS random generator and the system clock.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;
use utrust_core::Engine;
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::{StringType, SubjectAttribute};
use utrust_core::store::SqliteStore;
use utrust_pki::{CsrInspector, LocalCa, OsRandom};

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// The data directory or a CA file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] utrust_core::ports::StoreError),
    /// The CA key or certificate is unusable.
    #[error("local CA: {0}")]
    Pki(#[from] utrust_pki::PkiError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Paths of the embedded default under a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    /// The directory.
    pub root: PathBuf,
}

impl DataDir {
    /// The SQLite database file.
    pub fn database(&self) -> PathBuf {
        self.root.join("utrust.db")
    }
    /// The CA's private key (PKCS#8 PEM, mode 0600).
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca").join("ca-key.pem")
    }
    /// The CA certificate (PEM).
    pub fn ca_certificate(&self) -> PathBuf {
        self.root.join("ca").join("ca.pem")
    }
}

fn ca_subject() -> Vec<SubjectAttribute> {
    [
        ("2.5.4.6", "RU", StringType::Printable),
        ("2.5.4.10", "utrust", StringType::Utf8),
        ("2.5.4.3", "utrust Local CA", StringType::Utf8),
    ]
    .into_iter()
    .filter_map(|(oid, value, string_type)| {
        Oid::parse(oid).ok().map(|oid| SubjectAttribute {
            oid,
            value: value.into(),
            string_type,
        })
    })
    .collect()
}

#[cfg(unix)]
fn write_secret(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_secret(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Loads the local CA from the data directory, creating it on first start.
///
/// # Errors
/// [`BootstrapError`].
pub fn load_or_create_ca(dir: &DataDir) -> Result<LocalCa, BootstrapError> {
    let key_path = dir.ca_key();
    let cert_path = dir.ca_certificate();
    if key_path.exists() && cert_path.exists() {
        let key = zeroize::Zeroizing::new(std::fs::read(&key_path).map_err(io(&key_path))?);
        let cert = std::fs::read(&cert_path).map_err(io(&cert_path))?;
        return Ok(LocalCa::from_parts(&key, &cert)?);
    }
    let ca_dir = key_path.parent().unwrap_or(&dir.root).to_owned();
    std::fs::create_dir_all(&ca_dir).map_err(io(&ca_dir))?;
    let ca = LocalCa::generate(
        &ca_subject(),
        KeyAlgorithm::EcdsaP256,
        time::Duration::days(3650),
        OffsetDateTime::now_utc() - time::Duration::minutes(5),
    )?;
    let key_pem = zeroize::Zeroizing::new(ca.key_pkcs8_pem().unwrap_or_default());
    write_secret(&key_path, key_pem.as_bytes()).map_err(io(&key_path))?;
    std::fs::write(&cert_path, ca.certificate_pem()).map_err(io(&cert_path))?;
    tracing::info!(path = %cert_path.display(), "created local CA");
    Ok(ca)
}

/// Opens the embedded default under `root`: the SQLite store (migrated) and the
/// local CA, and assembles the engine.
///
/// # Errors
/// [`BootstrapError`].
pub async fn embedded_engine(root: &Path) -> Result<(Engine, DataDir), BootstrapError> {
    let dir = DataDir {
        root: root.to_owned(),
    };
    std::fs::create_dir_all(root).map_err(io(root))?;
    let store = SqliteStore::open(&dir.database()).await?;
    let ca = load_or_create_ca(&dir)?;
    let engine = Engine::new(
        Arc::new(store),
        Arc::new(ca),
        Arc::new(CsrInspector::new()),
        Arc::new(OsRandom::new()),
    );
    Ok((engine, dir))
}
