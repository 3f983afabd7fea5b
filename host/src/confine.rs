//! Confines this process's own file access with Landlock (Linux 5.13 and later): once
//! [`to_paths`] returns, opening anything outside the paths it was given fails with
//! "permission denied", whatever the process's user could otherwise read. `plugin serve`
//! uses it so that the internet-facing process cannot read the account and certificate keys
//! beside `http01/`, even if something in it were subverted.
//!
//! Landlock binds the calling thread and the threads it starts afterwards, not the threads
//! already running: call [`to_paths`] before starting the async runtime.

use std::path::Path;

use landlock::{
    ABI, Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetError, RulesetStatus,
};

/// The Landlock ABI asked for; an older kernel enforces the part it knows.
const ABI_WANTED: ABI = ABI::V5;

/// How much of the confinement this kernel enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confinement {
    /// All of it.
    Full,
    /// Part of it (an older Landlock ABI: some access rights are not handled).
    Partial,
    /// None: the kernel has no Landlock (or it is turned off).
    None,
}

/// Allows reading and writing beneath each directory of `read_write`, reading each file of
/// `read_only`, and no other file-system access, to this thread and those it starts later.
/// Every path must exist; an error names the one that does not.
pub fn to_paths(read_write: &[&Path], read_only: &[&Path]) -> Result<Confinement, String> {
    let all = AccessFs::from_all(ABI_WANTED);
    let read_file = AccessFs::from_read(ABI_WANTED) & AccessFs::from_file(ABI_WANTED);
    let rule = |path: &Path, access| {
        PathFd::new(path)
            .map(|fd| PathBeneath::new(fd, access))
            .map_err(|e| format!("cannot confine the process to {}: {e}", path.display()))
    };
    let rules = read_write
        .iter()
        .map(|path| rule(path, all))
        .chain(read_only.iter().map(|path| rule(path, read_file)))
        .collect::<Result<Vec<_>, String>>()?;
    let landlock = |e: RulesetError| format!("cannot confine the process (Landlock): {e}");
    let status = Ruleset::default()
        .handle_access(all)
        .map_err(landlock)?
        .create()
        .map_err(landlock)?
        .add_rules(rules.into_iter().map(Ok::<_, RulesetError>))
        .map_err(landlock)?
        .restrict_self()
        .map_err(landlock)?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Confinement::Full,
        RulesetStatus::PartiallyEnforced => Confinement::Partial,
        RulesetStatus::NotEnforced => Confinement::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of its own: confinement binds the thread for good, and must not
    /// reach the test harness's other threads.
    fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().expect("the confined thread")
    }

    #[test]
    fn only_the_given_paths_stay_reachable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        for sub in ["http01", "accounts"] {
            std::fs::create_dir(root.join(sub)).expect("mkdir");
        }
        std::fs::write(root.join("accounts/key.pem"), "secret").expect("write");
        std::fs::write(root.join("plugin.wasm"), "wasm").expect("write");
        let confinement = on_own_thread(move || {
            let confinement =
                to_paths(&[&root.join("http01")], &[&root.join("plugin.wasm")]).expect("confine");
            // Inside: read and write (a temp file renamed over the key, as the store does).
            std::fs::write(root.join("http01/.tok.tmp"), "ka").expect("write inside");
            std::fs::rename(root.join("http01/.tok.tmp"), root.join("http01/tok")).expect("rename");
            assert_eq!(
                std::fs::read(root.join("http01/tok")).expect("read inside"),
                b"ka"
            );
            assert_eq!(
                std::fs::read(root.join("plugin.wasm")).expect("read-only file"),
                b"wasm"
            );
            if confinement == Confinement::None {
                return confinement;
            }
            for outside in [root.join("accounts/key.pem"), root.join("new-file")] {
                let err = std::fs::read(&outside)
                    .map(drop)
                    .or_else(|_| std::fs::write(&outside, "x"))
                    .expect_err("outside the confinement");
                assert_eq!(
                    err.kind(),
                    std::io::ErrorKind::PermissionDenied,
                    "{outside:?}"
                );
            }
            let err = std::fs::write(root.join("plugin.wasm"), "x").expect_err("read-only");
            assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
            confinement
        });
        // This machine's kernel has Landlock (ABI 7): the test must not pass by skipping.
        assert_eq!(confinement, Confinement::Full);
        // The rest of the process was not confined.
        assert!(dir.path().join("accounts/key.pem").exists());
        std::fs::read(dir.path().join("accounts/key.pem")).expect("unconfined thread reads");
    }

    #[test]
    fn a_missing_path_is_named() {
        let err = on_own_thread(|| to_paths(&[Path::new("/nonexistent/http01")], &[]))
            .expect_err("missing");
        assert!(err.contains("/nonexistent/http01"), "{err}");
    }
}
