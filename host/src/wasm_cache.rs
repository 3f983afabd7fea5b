//! Compiled WebAssembly components cached on disk: compiling with Cranelift takes seconds,
//! loading the cached machine code milliseconds. A cache file is keyed by the component's
//! hash and wasmtime's compatibility hash, so a new component or a new wasmtime never loads
//! stale code.

use std::borrow::Cow;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// A component's bytes and their hex SHA-256, which names its cached machine code. Cloning
/// an embedded one copies two pointers.
#[derive(Clone)]
pub struct WasmBytes {
    /// The component.
    bytes: Cow<'static, [u8]>,
    /// The hex SHA-256 of `bytes`.
    sha256: Cow<'static, str>,
}

impl WasmBytes {
    /// A component embedded in the binary, with the digest `build.rs` computed of it.
    pub const fn embedded(bytes: &'static [u8], sha256: &'static str) -> Self {
        Self {
            bytes: Cow::Borrowed(bytes),
            sha256: Cow::Borrowed(sha256),
        }
    }

    /// The component in `file`, read and hashed now, or `embedded` when there is no file;
    /// the error names `what` the file is and where.
    pub fn file_or(file: Option<&Path>, embedded: &Self, what: &str) -> Result<Self, String> {
        let Some(path) = file else {
            return Ok(embedded.clone());
        };
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
        let sha256 = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            bytes: Cow::Owned(bytes),
            sha256: Cow::Owned(sha256),
        })
    }
}

/// Rewrites a component's bytes before they are compiled (see `engine::prepare`).
pub type Transform<'a> = &'a dyn Fn(&[u8]) -> Result<Vec<u8>, String>;

/// Compiles `wasm`, or loads the machine code cached for exactly these bytes, this `name`
/// and this wasmtime configuration. What is cached is compiled from the bytes `transform`
/// makes, if given: it is paid once per cache, so without a cache directory the bytes are
/// compiled as they are. A missing or unusable cache is only slower, never an error; so is
/// a transform that fails (the bytes are then compiled as they are).
pub fn load_component(
    engine: &wasmtime::Engine,
    wasm: &WasmBytes,
    cache_dir: Option<&Path>,
    name: &str,
    transform: Option<Transform<'_>>,
) -> Result<Component, String> {
    let compile_as_is = || Component::new(engine, &wasm.bytes).map_err(|e| format!("{e:#}"));
    let Some(path) = cache_dir.map(|dir| cache_path(engine, &wasm.sha256, dir, name)) else {
        return compile_as_is();
    };
    let compile = || match transform.map(|transform| transform(&wasm.bytes)) {
        Some(Ok(bytes)) => Component::new(engine, &bytes).map_err(|e| format!("{e:#}")),
        Some(Err(why)) => {
            tracing::debug!("compiling the {name} as it is: {why}");
            compile_as_is()
        }
        None => compile_as_is(),
    };
    if path.exists() {
        if let Some(why) = untrusted(&path) {
            tracing::warn!(
                "not using the compiled {name} cache {}: {why}",
                path.display()
            );
            return compile_as_is();
        }
        // SAFETY: the file is one this function wrote with `Component::serialize` into the
        // user's own cache directory (checked just above: it and its directory belong to
        // this user and no one else can write them), named by the hash of the component and
        // of wasmtime's compatibility settings; wasmtime also checks the header before using
        // it.
        #[allow(unsafe_code)]
        let cached = unsafe { Component::deserialize_file(engine, &path) };
        match cached {
            Ok(component) => return Ok(component),
            Err(e) => tracing::debug!("ignoring the {name} cache {}: {e}", path.display()),
        }
    }
    let component = compile()?;
    if let Ok(code) = component.serialize() {
        let written = std::fs::create_dir_all(cache_dir.unwrap_or(Path::new("."))).and_then(|()| {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, &code)?;
            std::fs::rename(&tmp, &path)
        });
        if let Err(e) = written {
            tracing::debug!(
                "could not cache the compiled {name} at {}: {e}",
                path.display()
            );
        }
    }
    Ok(component)
}

/// Why machine code at `path` must not be loaded, if it must not: it, or its directory,
/// belongs to another user or can be written by others (they could put their own code
/// there for this process to run).
fn untrusted(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    for checked in [Some(path), path.parent()].into_iter().flatten() {
        let Ok(meta) = std::fs::metadata(checked) else {
            return Some(format!("cannot read {}", checked.display()));
        };
        if meta.uid() != me {
            return Some(format!(
                "{} belongs to user {}",
                checked.display(),
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Some(format!(
                "{} can be written by others (mode {:o})",
                checked.display(),
                meta.mode() & 0o777
            ));
        }
    }
    None
}

/// Where the compiled form of the component with hex SHA-256 `sha256` is cached.
fn cache_path(engine: &wasmtime::Engine, sha256: &str, dir: &Path, name: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let component = sha256.get(..24).unwrap_or(sha256);
    dir.join(format!("{name}-{component}-{:016x}.cwasm", hasher.finish()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn machine_code_others_can_write_is_not_trusted() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        let file = dir.path().join("engine.cwasm");
        std::fs::write(&file, b"code")?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        assert_eq!(untrusted(&file), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))?;
        let why = untrusted(&file).ok_or("a world-writable file is refused")?;
        assert!(why.contains("mode 666"), "{why}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        assert!(
            untrusted(&file).is_some(),
            "a world-writable directory is refused"
        );
        Ok(())
    }
}
