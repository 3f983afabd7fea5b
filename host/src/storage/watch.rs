//! Hearing about lineages that change in the store, from any process: on files an inotify
//! watch (the `notify` crate) on the certificates' directory, on Redis a subscription to the
//! channel the commit and rollback scripts publish on. Each says which lineage changed when
//! it can tell; the caller reads it again (and rescans now and then, in case a change was
//! missed while a subscription was down).

use std::path::{Component, Path, PathBuf};

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use super::{StorageError, Store};

/// A watch on lineage changes; dropping it ends the watch.
pub enum LineageWatch {
    /// The inotify watch.
    Files(notify::RecommendedWatcher),
    /// The subscription task.
    Redis(tokio::task::JoinHandle<()>),
}

impl Drop for LineageWatch {
    fn drop(&mut self) {
        if let Self::Redis(task) = self {
            task.abort();
        }
    }
}

impl Store {
    /// Sends the name of a lineage of CA `ca` on `changed` whenever it may have changed
    /// (`None`: some lineages, read them all).
    pub fn watch_lineages(
        &self,
        ca: &str,
        changed: UnboundedSender<Option<String>>,
    ) -> Result<LineageWatch, StorageError> {
        match self {
            Self::Files(store) => {
                let root = store.root().to_owned();
                let certs: PathBuf = root.join("certs").join(ca);
                let mut watcher =
                    notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                        let Ok(event) = event else {
                            let _ = changed.send(None);
                            return;
                        };
                        for path in &event.paths {
                            if let Ok(inside) = path.strip_prefix(&certs) {
                                let _ = changed.send(lineage_of(inside));
                            }
                        }
                    })
                    .map_err(|e| watch_error(&root, &e))?;
                watcher
                    .watch(&root, RecursiveMode::Recursive)
                    .map_err(|e| watch_error(&root, &e))?;
                Ok(LineageWatch::Files(watcher))
            }
            Self::Redis(store) => {
                let store = store.clone();
                let prefix = format!("certs/{ca}/");
                Ok(LineageWatch::Redis(tokio::spawn(async move {
                    store.watch_lineages(&prefix, changed).await;
                })))
            }
        }
    }
}

/// The lineage a path inside `certs/<ca>/` belongs to: `<name>` or `.generations/<name>/…`.
fn lineage_of(inside: &Path) -> Option<String> {
    let mut parts = inside.components().filter_map(|c| match c {
        Component::Normal(part) => part.to_str(),
        _ => None,
    });
    match parts.next()? {
        ".generations" => parts.next().map(str::to_owned),
        name => Some(name.to_owned()),
    }
}

/// A watch that could not be set up, naming the directory.
fn watch_error(dir: &std::path::Path, e: &notify::Error) -> StorageError {
    StorageError::Io {
        action: "watch",
        path: dir.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_names_its_lineage() {
        assert_eq!(
            lineage_of(Path::new("a.example.test")),
            Some("a.example.test".into())
        );
        assert_eq!(
            lineage_of(Path::new(".generations/a.example.test/3/key.pem")),
            Some("a.example.test".into())
        );
        assert_eq!(lineage_of(Path::new(".generations")), None);
        assert_eq!(lineage_of(Path::new("")), None);
    }
}
