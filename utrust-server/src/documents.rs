//! The filesystem [`DocumentStore`]: case-file documents under
//! `DATA_DIR/documents/`, content-addressed by SHA-256
//! (`documents/ab/cd/abcd…`), written atomically (a temporary file in the same
//! directory, synced, then hard-linked to its name — which fails rather than
//! replace an existing file) and never overwritten.
//!
//! Several server processes sharing one PostgreSQL must share this directory too
//! (e.g. a network filesystem), or each serves only the documents it received.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use utrust_core::domain::casefile::Sha256Hex;
use utrust_core::ports::{DocumentStore, DocumentStoreError};

/// See the module documentation.
#[derive(Debug)]
pub struct FsDocumentStore {
    root: PathBuf,
    counter: AtomicU64,
}

impl FsDocumentStore {
    /// A store under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            counter: AtomicU64::new(0),
        }
    }

    /// The path of the content `sha256`.
    pub fn path_of(&self, sha256: &Sha256Hex) -> PathBuf {
        let h = sha256.as_str();
        self.root.join(&h[..2]).join(&h[2..4]).join(h)
    }
}

fn io(path: &Path, e: &std::io::Error) -> DocumentStoreError {
    DocumentStoreError::Io(format!("{}: {e}", path.display()))
}

fn digest(content: &[u8]) -> Sha256Hex {
    let d = ring::digest::digest(&ring::digest::SHA256, content);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(d.as_ref());
    Sha256Hex::from_digest(&bytes)
}

fn write_once(path: &Path, tmp: &Path, content: &[u8]) -> Result<(), DocumentStoreError> {
    if path.exists() {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(|e| io(tmp, &e))?;
        f.write_all(content).map_err(|e| io(tmp, &e))?;
        f.sync_all().map_err(|e| io(tmp, &e))?;
        match std::fs::hard_link(tmp, path) {
            Ok(()) => Ok(()),
            // Another writer stored the same content first: theirs stays.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io(path, &e)),
        }
    })();
    let _ = std::fs::remove_file(tmp);
    result?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[async_trait]
impl DocumentStore for FsDocumentStore {
    async fn put(&self, sha256: &Sha256Hex, content: &[u8]) -> Result<(), DocumentStoreError> {
        if digest(content) != *sha256 {
            return Err(DocumentStoreError::DigestMismatch(sha256.clone()));
        }
        let path = self.path_of(sha256);
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".tmp-{}-{}-{n}", sha256, std::process::id()));
        let content = content.to_vec();
        tokio::task::spawn_blocking(move || write_once(&path, &tmp, &content))
            .await
            .map_err(|e| DocumentStoreError::Io(e.to_string()))?
    }

    async fn get(&self, sha256: &Sha256Hex) -> Result<Option<Vec<u8>>, DocumentStoreError> {
        let path = self.path_of(sha256);
        let expected = sha256.clone();
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) if digest(&bytes) == expected => Ok(Some(bytes)),
            Ok(_) => Err(DocumentStoreError::DigestMismatch(expected)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, &e)),
        })
        .await
        .map_err(|e| DocumentStoreError::Io(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn content_addressed_written_once_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsDocumentStore::new(dir.path().join("documents"));
        let content = b"%PDF-1.4 scan".to_vec();
        let key = digest(&content);
        assert_eq!(store.get(&key).await.unwrap(), None);
        store.put(&key, &content).await.unwrap();
        store.put(&key, &content).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), Some(content.clone()));
        let path = store.path_of(&key);
        assert!(path.starts_with(dir.path().join("documents").join(&key.as_str()[..2])));
        // Wrong key for the content: refused, nothing written.
        let other = digest(b"other");
        assert!(matches!(
            store.put(&other, &content).await,
            Err(DocumentStoreError::DigestMismatch(_))
        ));
        assert_eq!(store.get(&other).await.unwrap(), None);
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        // A file changed on disk is detected.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"tampered").unwrap();
        assert!(matches!(
            store.get(&key).await,
            Err(DocumentStoreError::DigestMismatch(_))
        ));
    }
}
