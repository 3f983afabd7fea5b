//! The file backend: keys are `/`-separated relative paths under the state directory;
//! every write is atomic (temp file, fsync, rename, fsync of the directory); secret files
//! are created 0600 and directories 0700. A lock is an `flock`ed file beside a state file
//! holding its fencing counter, holder and expiry (replaced atomically, not fsynced: see
//! `LockedState::save`). A certificate lineage is a directory per
//! generation, `certs/<ca>/.generations/<name>/<n>/`, and `certs/<ca>/<name>` a symlink to the
//! current one, switched by one `rename`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::lineage::StoredFiles;
use super::lock::{Attempt, Holder};
use super::{Fence, Secrecy, StorageError};
use crate::clock::now;
use crate::layout;

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

/// The file mode for `secrecy`.
fn mode(secrecy: Secrecy) -> u32 {
    match secrecy {
        Secrecy::Public => 0o644,
        Secrecy::Secret => 0o600,
    }
}

/// Creates `dir` and its parents, 0700.
fn create_dir(dir: &Path) -> Result<(), StorageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create", dir))
}

/// fsyncs directory `dir` (so a rename in it survives a crash).
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

/// Whether a write must survive a crash of the machine.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// fsynced (the file, and the directory after a rename): keys, certificates, orders.
    Durable,
    /// Atomic for readers, but a crash of the machine may lose it or leave an empty file:
    /// a lock's state, which only matters to processes that a machine crash ends too.
    Volatile,
}

/// Writes `bytes` to a new temporary file beside `path` (mode per `secrecy`, fsynced if
/// `durability` says) and returns its path; the caller renames or links it into place.
fn write_temp(
    path: &Path,
    bytes: &[u8],
    secrecy: Secrecy,
    durability: Durability,
) -> Result<PathBuf, StorageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("value");
    // Unique per process and write: two writers of one key never share a temp file.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode(secrecy))
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            match durability {
                Durability::Durable => file.sync_all(),
                Durability::Volatile => Ok(()),
            }
        });
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(io("write", &tmp)(e))
        }
    }
}

/// Writes `bytes` at `path` atomically: readers see the old file or the new one; durably
/// unless `durability` says otherwise.
fn write_atomic(
    path: &Path,
    bytes: &[u8],
    secrecy: Secrecy,
    durability: Durability,
) -> Result<(), StorageError> {
    let tmp = write_temp(path, bytes, secrecy, durability)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io("replace", path)(e));
    }
    match durability {
        Durability::Durable => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Durability::Volatile => Ok(()),
    }
}

/// The file, beside a lineage's generations, naming the generation a rollback returns to.
const PREVIOUS: &str = "previous";

/// A lock's state file: the fencing counter (never reset) and the current holder.
#[derive(Default, Serialize, Deserialize)]
struct LockState {
    /// The last token granted.
    fence: u64,
    /// The holder, until released.
    holder: Option<Holder>,
    /// When the holder's lease runs out (ms since the Unix epoch).
    expires_ms: u64,
}

/// A lock's files with its `flock` held: the state can be read and replaced.
struct LockedState {
    /// The `flock`ed file (unlocked when dropped).
    _flock: File,
    /// The state file.
    path: PathBuf,
    /// Its content.
    state: LockState,
}

impl LockedState {
    /// Replaces the state file, atomically but without fsync: a lock's state matters only
    /// to live processes, and a crash of the machine ends every holder of its locks, so a
    /// state (or fencing counter) lost with the crash guards no one. This halves what a lock
    /// costs an `issue` (BENCHMARKS.md "locks and fenced writes").
    fn save(&self) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(&self.state).unwrap_or_default();
        write_atomic(&self.path, &bytes, Secrecy::Secret, Durability::Volatile)
    }
}

/// A warning when `dir` (it holds private keys) can be read or entered by other users,
/// saying how to fix it; `None` when it is the owner's alone or does not exist.
fn open_to_others(dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} holds private keys but is open to other users (mode {mode:o}): run chmod 700 {}",
            dir.display(),
            dir.display()
        )
    })
}

/// A store rooted at a state directory.
#[derive(Clone, Debug)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Opens (creating, 0700) the state directory and checks it is writable.
    pub fn open(root: &Path) -> Result<Self, StorageError> {
        create_dir(root).map_err(|e| match e {
            StorageError::Io { source, .. } => io("create the state directory", root)(source),
            other => other,
        })?;
        let probe = root.join(format!(".write-test-{}", std::process::id()));
        File::create(&probe).map_err(io("write in the state directory", root))?;
        let _ = fs::remove_file(&probe);
        // The directories that hold keys (the state directory itself may be open: these are
        // created 0700 inside it).
        for dir in ["accounts", "certs", "orders"].map(|d| root.join(d)) {
            if let Some(warning) = open_to_others(&dir) {
                tracing::warn!("{warning}");
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// Opens only the part `part` of the state directory (for a process confined to it:
    /// `plugin serve`), creating it (0700) and checking it is writable; nothing else under
    /// the state directory is touched.
    pub fn open_part(root: &Path, part: &str) -> Result<Self, StorageError> {
        let dir = root.join(part);
        create_dir(&dir)?;
        let probe = dir.join(format!(".write-test-{}", std::process::id()));
        File::create(&probe).map_err(io("write in", &dir))?;
        let _ = fs::remove_file(&probe);
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of `key`, after checking the key.
    pub fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        layout::check_key(key)?;
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

    /// Whether `key` is stored (without reading it).
    pub fn exists(&self, key: &str) -> Result<bool, StorageError> {
        let path = self.path(key)?;
        path.try_exists().map_err(io("look for", &path))
    }

    /// Stores `bytes` at `key` atomically, checking `fence` first if given.
    pub fn put_fenced(
        &self,
        key: &str,
        bytes: &[u8],
        secrecy: Secrecy,
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let _locked = self.check_fence(fence)?;
        write_atomic(&path, bytes, secrecy, Durability::Durable)
    }

    /// Stores `bytes` at `key` only if absent (a hard link of a complete temp file, which
    /// fails if the name exists); whether it was stored.
    pub fn put_new(&self, key: &str, bytes: &[u8], secrecy: Secrecy) -> Result<bool, StorageError> {
        let path = self.path(key)?;
        let tmp = write_temp(&path, bytes, secrecy, Durability::Durable)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(path.parent().unwrap_or(&self.root))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("create", &path)(e)),
        }
    }

    /// Stores a short-lived value and removes its siblings older than `ttl`.
    pub fn put_expiring(&self, key: &str, bytes: &[u8], ttl: Duration) -> Result<(), StorageError> {
        let path = self.path(key)?;
        write_atomic(&path, bytes, Secrecy::Public, Durability::Durable)?;
        let Some(dir) = path.parent() else {
            return Ok(());
        };
        let cutoff = SystemTime::now()
            .checked_sub(ttl)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        for entry in fs::read_dir(dir).map_err(io("list", dir))?.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < cutoff);
            if stale && entry.file_type().is_ok_and(|t| t.is_file()) {
                tracing::info!("removing the expired {}", entry.path().display());
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
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

    /// Removes `key` (absent is fine), checking `fence` first if given.
    pub fn delete_fenced(&self, key: &str, fence: Option<&Fence>) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let _locked = self.check_fence(fence)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &path)(e)),
            _ => Ok(()),
        }
    }

    /// Opens lock `name`'s files and holds its `flock` until the result is dropped.
    fn locked(&self, name: &str) -> Result<LockedState, StorageError> {
        let flock_path = self.path(&layout::lock_file(name))?;
        create_dir(flock_path.parent().unwrap_or(&self.root))?;
        let flock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&flock_path)
            .map_err(io("open the lock", &flock_path))?;
        flock.lock().map_err(io("lock", &flock_path))?;
        let path = self.path(&layout::lock_state(name))?;
        let state = match fs::read(&path) {
            // What a machine crash may leave of an unsynced state: no holder alive.
            Ok(bytes) if bytes.is_empty() => LockState::default(),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
                key: path.display().to_string(),
                reason: format!("not a lock state ({e}); remove it only when no certsmith runs"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => LockState::default(),
            Err(e) => return Err(io("read", &path)(e)),
        };
        Ok(LockedState {
            _flock: flock,
            path,
            state,
        })
    }

    /// With `fence` given: its lock, `flock`ed, after checking no newer token exists.
    fn check_fence(&self, fence: Option<&Fence>) -> Result<Option<LockedState>, StorageError> {
        let Some(fence) = fence else {
            return Ok(None);
        };
        let locked = self.locked(&fence.name)?;
        if locked.state.fence != fence.token {
            return Err(StorageError::Fenced {
                name: fence.name.clone(),
                ours: fence.token,
                current: locked.state.fence,
            });
        }
        Ok(Some(locked))
    }

    /// One attempt at lock `name` for `holder`; with `dead`, only takes it from that holder.
    pub fn lock_once(
        &self,
        name: &str,
        holder: &Holder,
        lease: Duration,
        dead: Option<&Holder>,
    ) -> Result<Attempt, StorageError> {
        let mut locked = self.locked(name)?;
        let now = now().unix_millis();
        if let Some(current) = &locked.state.holder {
            let expired = locked.state.expires_ms <= now;
            if !expired && dead != Some(current) {
                return Ok(Attempt::Held(current.clone()));
            }
        }
        locked.state.fence += 1;
        locked.state.holder = Some(holder.clone());
        locked.state.expires_ms = now.saturating_add(lease_millis(lease));
        locked.save()?;
        Ok(Attempt::Granted(locked.state.fence))
    }

    /// Extends `holder`'s lease; false if it no longer holds the lock.
    pub fn relock(
        &self,
        name: &str,
        holder: &Holder,
        lease: Duration,
    ) -> Result<bool, StorageError> {
        let mut locked = self.locked(name)?;
        let now = now().unix_millis();
        let holds = locked.state.holder.as_ref() == Some(holder) && locked.state.expires_ms > now;
        if holds {
            locked.state.expires_ms = now.saturating_add(lease_millis(lease));
            locked.save()?;
        }
        Ok(holds)
    }

    /// Releases `holder`'s lock (nothing happens if it no longer holds it).
    pub fn unlock(&self, name: &str, holder: &Holder) -> Result<(), StorageError> {
        let mut locked = self.locked(name)?;
        if locked.state.holder.as_ref() == Some(holder) {
            locked.state.holder = None;
            locked.state.expires_ms = 0;
            locked.save()?;
        }
        Ok(())
    }

    /// The lineage directory of certificate `name` from `ca`, the directory of its
    /// generations, and the generation it points at (`None`: no lineage yet). A lineage
    /// stored before generations existed (a plain directory) is moved to generation 1 first.
    fn generations(
        &self,
        ca: &str,
        name: &str,
    ) -> Result<(PathBuf, PathBuf, Option<u64>), StorageError> {
        let link = self.path(&layout::lineage(ca, name))?;
        let gens = self.path(&layout::generations(ca, name))?;
        let current = match fs::symlink_metadata(&link) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("read", &link)(e)),
            Ok(meta) if meta.is_dir() => {
                create_dir(&gens)?;
                let first = gens.join("1");
                fs::rename(&link, &first).map_err(io("move into generation 1", &link))?;
                self.point_at(&link, 1)?;
                Some(1)
            }
            Ok(_) => {
                let target = fs::read_link(&link).map_err(io("read the link", &link))?;
                let generation = target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| StorageError::Corrupt {
                        key: link.display().to_string(),
                        reason: format!("points at {}, not at a generation", target.display()),
                    })?;
                Some(generation)
            }
        };
        Ok((link, gens, current))
    }

    /// Switches `link` to generation `generation` with one rename.
    fn point_at(&self, link: &Path, generation: u64) -> Result<(), StorageError> {
        let dir = link.parent().unwrap_or(&self.root);
        let name = link
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("lineage");
        let target = Path::new(layout::GENERATIONS)
            .join(name)
            .join(generation.to_string());
        let tmp = dir.join(format!(".{name}.link-{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp).map_err(io("link", &tmp))?;
        if let Err(e) = fs::rename(&tmp, link) {
            let _ = fs::remove_file(&tmp);
            return Err(io("switch", link)(e));
        }
        sync_dir(dir)
    }

    /// The generations of a lineage on disk, ascending.
    fn generation_numbers(gens: &Path) -> Result<Vec<u64>, StorageError> {
        let mut numbers: Vec<u64> = match fs::read_dir(gens) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("list", gens)(e)),
        };
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// Makes `files` the current generation of lineage `name` (checking `fence`), keeps
    /// the one it replaces and removes older ones.
    pub fn commit_lineage(
        &self,
        ca: &str,
        name: &str,
        files: &[(&str, &[u8], Secrecy)],
        fence: Option<&Fence>,
    ) -> Result<(), StorageError> {
        let _locked = self.check_fence(fence)?;
        let (link, gens, current) = self.generations(ca, name)?;
        let next = Self::generation_numbers(&gens)?
            .last()
            .copied()
            .unwrap_or(0)
            + 1;
        let dir = gens.join(next.to_string());
        create_dir(&dir)?;
        for (file, bytes, secrecy) in files {
            let tmp = write_temp(&dir.join(file), bytes, *secrecy, Durability::Durable)?;
            fs::rename(&tmp, dir.join(file)).map_err(io("write", &dir))?;
        }
        sync_dir(&dir)?;
        crate::crash_point::hit("lineage-written");
        if let Some(current) = current {
            Self::set_previous(&gens, current)?;
        }
        self.point_at(&link, next)?;
        for old in Self::generation_numbers(&gens)? {
            if old != next && Some(old) != current {
                let _ = fs::remove_dir_all(gens.join(old.to_string()));
            }
        }
        Ok(())
    }

    /// Records `generation` as the one a rollback returns to.
    fn set_previous(gens: &Path, generation: u64) -> Result<(), StorageError> {
        let bytes = format!("{generation}\n");
        write_atomic(
            &gens.join(PREVIOUS),
            bytes.as_bytes(),
            Secrecy::Public,
            Durability::Durable,
        )
    }

    /// The generation a rollback returns to: the one recorded when the current one was
    /// made current, if it is still there whole. (Lineages from before that record was
    /// kept: the newest other whole generation.) A generation that a crash left half
    /// written, or written but never made current, is never chosen.
    fn previous(gens: &Path, current: Option<u64>) -> Result<Option<u64>, StorageError> {
        let whole = |generation: u64| {
            Some(generation) != current
                && layout::LINEAGE_FILES
                    .iter()
                    .all(|file| gens.join(generation.to_string()).join(file).exists())
        };
        match fs::read_to_string(gens.join(PREVIOUS)) {
            Ok(text) => Ok(text.trim().parse().ok().filter(|g| whole(*g))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self::generation_numbers(gens)?
                    .into_iter()
                    .rev()
                    .find(|g| whole(*g)))
            }
            Err(e) => Err(io("read", &gens.join(PREVIOUS))(e)),
        }
    }

    /// Reads every file of lineage `name`'s current generation, all from one generation.
    pub fn read_lineage(&self, ca: &str, name: &str) -> Result<Option<StoredFiles>, StorageError> {
        let link = self.path(&layout::lineage(ca, name))?;
        // Resolve the link once, so every file comes from the same generation.
        let dir = match fs::canonicalize(&link) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("read", &link)(e)),
        };
        let mut files = Vec::new();
        for file in layout::LINEAGE_FILES {
            match fs::read(dir.join(file)) {
                Ok(bytes) => files.push((file.to_string(), bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("read", &dir.join(file))(e)),
            }
        }
        Ok(Some(files))
    }

    /// The current files of many lineages (`(ca, name)` pairs), read on every core: what
    /// listing thousands of certificates costs is mostly opening files.
    pub fn read_lineages(
        &self,
        lineages: &[(String, String)],
    ) -> Vec<Result<Option<StoredFiles>, StorageError>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let chunk = lineages.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let readers: Vec<_> = lineages
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(ca, name)| self.read_lineage(ca, name))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            readers
                .into_iter()
                .flat_map(|reader| match reader.join() {
                    Ok(read) => read,
                    Err(_) => vec![Err(StorageError::Corrupt {
                        key: "certs".into(),
                        reason: "a reader thread panicked".into(),
                    })],
                })
                .collect()
        })
    }

    /// Makes the previous generation of lineage `name` current again (checking `fence`);
    /// false if there is none. The generation it replaces is kept, so a second rollback
    /// undoes the first.
    pub fn rollback_lineage(
        &self,
        ca: &str,
        name: &str,
        fence: Option<&Fence>,
    ) -> Result<bool, StorageError> {
        let _locked = self.check_fence(fence)?;
        let (link, gens, current) = self.generations(ca, name)?;
        let Some(previous) = Self::previous(&gens, current)? else {
            return Ok(false);
        };
        self.point_at(&link, previous)?;
        if let Some(current) = current {
            Self::set_previous(&gens, current)?;
        }
        Ok(true)
    }
}

/// A lease in milliseconds.
fn lease_millis(lease: Duration) -> u64 {
    u64::try_from(lease.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A test's outcome: a failed step is an error naming it.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_state_dir_open_to_others_is_named_with_the_fix() -> TestResult {
        let dir = tempfile::tempdir()?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        let warning = open_to_others(dir.path()).ok_or("0755 is open to others")?;
        assert!(
            warning.contains("mode 755") && warning.contains("chmod 700"),
            "{warning}"
        );
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
        assert_eq!(open_to_others(dir.path()), None);
        Ok(())
    }

    fn mode(path: &Path) -> std::io::Result<u32> {
        Ok(fs::metadata(path)?.permissions().mode() & 0o777)
    }

    #[test]
    fn atomic_writes_with_modes_and_no_leftovers() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = FsStore::open(&dir.path().join("state"))?;
        let (key_file, cert_file) = ("certs/ca/a.example/key.pem", "certs/ca/a.example/cert.pem");
        store.put_fenced(key_file, b"secret", Secrecy::Secret, None)?;
        store.put_fenced(cert_file, b"one", Secrecy::Public, None)?;
        store.put_fenced(cert_file, b"two", Secrecy::Public, None)?;
        assert_eq!(store.get(cert_file)?.as_deref(), Some(&b"two"[..]));
        assert_eq!(store.get("certs/ca/none")?, None);
        let key = store.path(key_file)?;
        let dir_of_key = key.parent().ok_or("no parent")?;
        assert_eq!(mode(&key)?, 0o600);
        assert_eq!(mode(dir_of_key)?, 0o700);
        assert_eq!(mode(&store.path(cert_file)?)?, 0o644);
        let names: Vec<_> = fs::read_dir(dir_of_key)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
        assert_eq!(store.children("certs/ca")?, ["a.example"]);
        assert!(store.children("nothing/here")?.is_empty());
        store.delete_fenced(key_file, None)?;
        store.delete_fenced(key_file, None)?;
        assert_eq!(store.get(key_file)?, None);
        Ok(())
    }

    #[test]
    fn an_empty_lock_state_left_by_a_machine_crash_is_a_free_lock() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = FsStore::open(dir.path())?;
        let holder = Holder::this_process();
        let lease = Duration::from_secs(60);
        assert!(matches!(
            store.lock_once("certs/ca/a", &holder, lease, None)?,
            Attempt::Granted(1)
        ));
        fs::write(store.path(&layout::lock_state("certs/ca/a"))?, b"")?;
        let other = Holder::this_process();
        assert!(matches!(
            store.lock_once("certs/ca/a", &other, lease, None)?,
            Attempt::Granted(1)
        ));
        // Anything else that is not a lock state is refused, naming the file.
        fs::write(store.path(&layout::lock_state("certs/ca/a"))?, b"{")?;
        let refused = store.lock_once("certs/ca/a", &other, lease, None);
        assert!(
            matches!(&refused, Err(StorageError::Corrupt { key, .. }) if key.ends_with("a.json")),
            "{:?}",
            refused.err()
        );
        Ok(())
    }

    #[test]
    fn a_rollback_never_returns_to_a_generation_a_crash_left_behind() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = FsStore::open(dir.path())?;
        let lineage = |serial: &'static [u8]| -> Vec<(&'static str, &'static [u8], Secrecy)> {
            layout::LINEAGE_FILES
                .iter()
                .map(|file| (*file, serial, Secrecy::Public))
                .collect()
        };
        let current = |store: &FsStore| -> Result<Vec<u8>, StorageError> {
            Ok(store.get("certs/ca/a/cert.pem")?.unwrap_or_default())
        };
        store.commit_lineage("ca", "a", &lineage(b"one"), None)?;
        store.commit_lineage("ca", "a", &lineage(b"two"), None)?;
        // Crashed commits: generation 3 half written, generation 4 whole but never current.
        let gens = store.path(&layout::generations("ca", "a"))?;
        fs::create_dir(gens.join("3"))?;
        fs::write(gens.join("3/cert.pem"), b"three")?;
        fs::create_dir(gens.join("4"))?;
        for file in layout::LINEAGE_FILES {
            fs::write(gens.join("4").join(file), b"four")?;
        }
        assert!(store.rollback_lineage("ca", "a", None)?);
        assert_eq!(current(&store)?, b"one");
        assert!(store.rollback_lineage("ca", "a", None)?);
        assert_eq!(current(&store)?, b"two");
        // The next commit clears what the crashes left.
        store.commit_lineage("ca", "a", &lineage(b"five"), None)?;
        let mut left = entries(&gens)?;
        left.sort();
        assert_eq!(left, ["2", "5", "previous"]);
        assert!(store.rollback_lineage("ca", "a", None)?);
        assert_eq!(current(&store)?, b"two");
        Ok(())
    }

    /// The entries of a lineage's generations directory.
    fn entries(gens: &Path) -> std::io::Result<Vec<String>> {
        fs::read_dir(gens)?
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect()
    }

    #[test]
    fn keys_are_checked() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = FsStore::open(dir.path())?;
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/\0"] {
            let err = store.put_fenced(bad, b"x", Secrecy::Public, None).err();
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("invalid storage key"), "{bad:?}: {text}");
        }
        Ok(())
    }

    #[test]
    fn an_unusable_state_dir_is_named() -> TestResult {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("a-file");
        fs::write(&file, b"x")?;
        let err = FsStore::open(&file.join("state")).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("a-file/state") && text.contains("--state-dir"),
            "{text}"
        );
        Ok(())
    }
}
