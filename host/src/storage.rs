//! The filesystem store: keys are `/`-separated relative paths under the state directory;
//! every write is atomic (temp file, fsync, rename, fsync of the directory); secret files
//! are created 0600 and directories 0700.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Whether a value is secret (private keys, snapshots holding keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrecy {
    /// Readable by others (certificates, metadata): 0644.
    Public,
    /// Owner only: 0600.
    Secret,
}

/// A storage failure, naming the file and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A key that is not a safe relative path.
    #[error("invalid storage key {0:?}: expected a relative path of plain names separated by '/'")]
    BadKey(String),
    /// The filesystem refused.
    #[error(
        "cannot {action} {path}: {source} — check that the state directory (--state-dir) is writable"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The error for an I/O failure on `path`.
fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// A store rooted at a state directory.
#[derive(Clone, Debug)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating, 0700) the state directory and checks it is writable.
    pub fn open(root: &Path) -> Result<Self, StorageError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(io("create the state directory", root))?;
        let probe = root.join(format!(".write-test-{}", std::process::id()));
        File::create(&probe).map_err(io("write in the state directory", root))?;
        let _ = fs::remove_file(&probe);
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The file of `key`, after checking the key.
    pub fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        let valid = !key.is_empty()
            && !key.contains(['\\', '\0'])
            && key
                .split('/')
                .all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(StorageError::BadKey(key.to_owned()));
        }
        Ok(self.root.join(key))
    }

    /// The value of `key`, if stored.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path(key)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Stores `bytes` at `key` atomically: readers see the old value or the new one.
    pub fn put(&self, key: &str, bytes: &[u8], secrecy: Secrecy) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("create", dir))?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("value");
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mode = match secrecy {
            Secrecy::Public => 0o644,
            Secrecy::Secret => 0o600,
        };
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(bytes)?;
                file.sync_all()
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io("write", &tmp)(e));
        }
        fs::rename(&tmp, &path).map_err(io("replace", &path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", dir))
    }

    /// The names directly under `prefix` (a directory of keys), sorted; none if absent.
    pub fn children(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let dir = self.path(prefix)?;
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &dir)(e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Removes `key` (absent is fine).
    pub fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn atomic_writes_with_modes_and_no_leftovers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open(&dir.path().join("state")).expect("open");
        store
            .put("certs/ca/a.example/key.pem", b"secret", Secrecy::Secret)
            .expect("put");
        store
            .put("certs/ca/a.example/cert.pem", b"one", Secrecy::Public)
            .expect("put");
        store
            .put("certs/ca/a.example/cert.pem", b"two", Secrecy::Public)
            .expect("replace");
        assert_eq!(
            store
                .get("certs/ca/a.example/cert.pem")
                .expect("get")
                .as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(store.get("certs/ca/none").expect("get"), None);
        let key = store.path("certs/ca/a.example/key.pem").expect("path");
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(key.parent().expect("dir")), 0o700);
        assert_eq!(
            mode(&store.path("certs/ca/a.example/cert.pem").expect("path")),
            0o644
        );
        let names: Vec<_> = fs::read_dir(key.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
        assert_eq!(store.children("certs/ca").expect("list"), ["a.example"]);
        assert!(store.children("nothing/here").expect("list").is_empty());
        store.delete("certs/ca/a.example/key.pem").expect("delete");
        store
            .delete("certs/ca/a.example/key.pem")
            .expect("delete twice");
        assert_eq!(store.get("certs/ca/a.example/key.pem").expect("get"), None);
    }

    #[test]
    fn keys_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsStore::open(dir.path()).expect("open");
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/\0"] {
            let err = store.put(bad, b"x", Secrecy::Public).expect_err(bad);
            assert!(err.to_string().contains("invalid storage key"), "{err}");
        }
    }

    #[test]
    fn an_unusable_state_dir_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a-file");
        fs::write(&file, b"x").expect("write");
        let err = FsStore::open(&file.join("state")).expect_err("parent is a file");
        let text = err.to_string();
        assert!(
            text.contains("a-file/state") && text.contains("--state-dir"),
            "{text}"
        );
    }
}
