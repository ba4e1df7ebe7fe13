//! Assembling the engine: the store (SQLite under the data directory by default,
//! or PostgreSQL), the local CA, the OS random generator and the system clock.
//!
//! Where the CA lives:
//! * embedded default (SQLite, no key-encryption key): key and certificate as
//!   files under `DATA_DIR/ca/`, the key with mode 0600;
//! * with a key-encryption key (required for PostgreSQL): in the database, the
//!   private key sealed with AES-256-GCM under that key, so every server process
//!   on the database issues under the same CA and the key is never stored in
//!   clear. The first process to start creates it; the others load it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;
use utrust_core::Engine;
use utrust_core::domain::catalog::KeyAlgorithm;
use utrust_core::domain::identifiers::Oid;
use utrust_core::domain::request::{StringType, SubjectAttribute};
use utrust_core::ports::{Store, StoredCa};
use utrust_core::store::SqliteStore;
use utrust_pki::{CsrInspector, KEY_ENCRYPTION, LocalCa, OsRandom, open_key, seal_key};

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
    /// The configuration is incomplete or contradictory.
    #[error("configuration: {0}")]
    Config(String),
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite file `utrust.db` in the data directory (the embedded default).
    Sqlite,
    /// A PostgreSQL URL (`postgres://…`); several servers may share it.
    Postgres(String),
}

/// How to assemble the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Data directory (SQLite file, CA files of the embedded default).
    pub data_dir: PathBuf,
    /// The database.
    pub database: Database,
    /// Key-encryption key for the CA key stored in the database (32 bytes).
    pub ca_key_encryption_key: Option<zeroize::Zeroizing<[u8; 32]>>,
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

/// Name of the local CA's row in the database.
const CA_NAME: &str = "default";

fn ca_aad(name: &str) -> Vec<u8> {
    format!("utrust-ca-key:{name}").into_bytes()
}

/// Loads the CA stored in the database, creating and storing it (key sealed
/// under `kek`) if none exists. Safe when several processes start at once: the
/// first insert wins and the others load it.
///
/// # Errors
/// [`BootstrapError`]; a wrong `kek` fails to open the stored key.
pub async fn load_or_create_shared_ca(
    store: &dyn Store,
    kek: &[u8; 32],
) -> Result<LocalCa, BootstrapError> {
    let aad = ca_aad(CA_NAME);
    if let Some(stored) = store.ca_material(CA_NAME).await? {
        return open_stored_ca(&stored, kek, &aad);
    }
    let ca = LocalCa::generate(
        &ca_subject(),
        KeyAlgorithm::EcdsaP256,
        time::Duration::days(3650),
        OffsetDateTime::now_utc() - time::Duration::minutes(5),
    )?;
    let key = ca
        .key_pkcs8_der()
        .ok_or_else(|| BootstrapError::Config("generated CA has no software key".into()))?;
    let stored = StoredCa {
        name: CA_NAME.into(),
        certificate_der: ca.certificate_der().to_vec(),
        encrypted_key: seal_key(kek, key, &aad)?,
        key_encryption: KEY_ENCRYPTION.into(),
    };
    if store.insert_ca_material(&stored).await? {
        tracing::info!("created local CA in the database");
        return Ok(ca);
    }
    // Another process stored one first: use that one.
    let stored = store
        .ca_material(CA_NAME)
        .await?
        .ok_or_else(|| BootstrapError::Config("CA vanished from the database".into()))?;
    open_stored_ca(&stored, kek, &aad)
}

fn open_stored_ca(
    stored: &StoredCa,
    kek: &[u8; 32],
    aad: &[u8],
) -> Result<LocalCa, BootstrapError> {
    if stored.key_encryption != KEY_ENCRYPTION {
        return Err(BootstrapError::Config(format!(
            "stored CA key uses {}, this build reads {KEY_ENCRYPTION}",
            stored.key_encryption
        )));
    }
    let key = open_key(kek, &stored.encrypted_key, aad)?;
    Ok(LocalCa::from_parts(&key, &stored.certificate_der)?)
}

/// Opens the store the configuration names (migrated).
///
/// # Errors
/// [`BootstrapError`].
pub async fn open_store(config: &EngineConfig) -> Result<Arc<dyn Store>, BootstrapError> {
    match &config.database {
        Database::Sqlite => {
            let root = &config.data_dir;
            std::fs::create_dir_all(root).map_err(io(root))?;
            let dir = DataDir { root: root.clone() };
            Ok(Arc::new(SqliteStore::open(&dir.database()).await?))
        }
        Database::Postgres(url) => open_postgres(url).await,
    }
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn Store>, BootstrapError> {
    Ok(Arc::new(utrust_core::store::PgStore::connect(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str) -> Result<Arc<dyn Store>, BootstrapError> {
    Err(BootstrapError::Config(
        "this build has no PostgreSQL support (feature `postgres`)".into(),
    ))
}

/// Assembles the engine the configuration describes.
///
/// # Errors
/// [`BootstrapError`], including a PostgreSQL database without a key-encryption
/// key (the CA key would otherwise have to be stored in clear).
pub async fn engine(config: &EngineConfig) -> Result<Engine, BootstrapError> {
    let store = open_store(config).await?;
    let ca = match (&config.ca_key_encryption_key, &config.database) {
        (Some(kek), _) => load_or_create_shared_ca(store.as_ref(), kek).await?,
        (None, Database::Sqlite) => load_or_create_ca(&DataDir {
            root: config.data_dir.clone(),
        })?,
        (None, Database::Postgres(_)) => {
            return Err(BootstrapError::Config(
                "a PostgreSQL database needs UTRUST_CA_KEY_ENCRYPTION_KEY (64 hex digits) so that every \
                 server shares one CA whose key is stored encrypted"
                    .into(),
            ));
        }
    };
    // Signatures of case-file documents must chain to our CA.
    let signatures = utrust_pki::CmsVerifier::new(&[ca.certificate_der()])?;
    Ok(Engine::new(
        store,
        Arc::new(ca),
        Arc::new(CsrInspector::new()),
        Arc::new(OsRandom::new()),
    )
    .with_document_store(Arc::new(crate::documents::FsDocumentStore::new(
        config.data_dir.join("documents"),
    )))
    .with_signature_verifier(Arc::new(signatures)))
}

/// The token provider for self-service issuance: the PKCS#11 module at
/// `module`, or Debian's SoftHSM2 ([`utrust_device::SOFTHSM2_MODULE`]) when none
/// is given and it is installed (`None` otherwise: device issuance then answers
/// that no token provider is configured). SoftHSM2 reads `SOFTHSM2_CONF` here.
///
/// # Errors
/// [`BootstrapError::Config`] when a given module does not exist or cannot be
/// loaded.
pub fn token_provider(
    module: Option<&Path>,
) -> Result<Option<Arc<dyn utrust_core::ports::TokenProvider>>, BootstrapError> {
    let (path, explicit) = match module {
        Some(p) => (p.to_owned(), true),
        None => (PathBuf::from(utrust_device::SOFTHSM2_MODULE), false),
    };
    if !path.exists() {
        if explicit {
            return Err(BootstrapError::Config(format!(
                "--pkcs11-module {}: no such file",
                path.display()
            )));
        }
        tracing::warn!(
            module = %path.display(),
            "no PKCS#11 module: self-service device issuance is unavailable (set --pkcs11-module)"
        );
        return Ok(None);
    }
    match utrust_device::Pkcs11Module::open(&path) {
        Ok(m) => {
            tracing::info!(module = %path.display(), "PKCS#11 module loaded");
            Ok(Some(Arc::new(m)))
        }
        Err(e) if explicit => Err(BootstrapError::Config(e.to_string())),
        Err(e) => {
            tracing::warn!(error = %e, "PKCS#11 module not usable: self-service device issuance is unavailable");
            Ok(None)
        }
    }
}

/// Opens the embedded default under `root`: the SQLite store (migrated) and the
/// local CA as files, and assembles the engine.
///
/// # Errors
/// [`BootstrapError`].
pub async fn embedded_engine(root: &Path) -> Result<(Engine, DataDir), BootstrapError> {
    let config = EngineConfig {
        data_dir: root.to_owned(),
        database: Database::Sqlite,
        ca_key_encryption_key: None,
    };
    let engine = engine(&config).await?;
    Ok((
        engine,
        DataDir {
            root: root.to_owned(),
        },
    ))
}
