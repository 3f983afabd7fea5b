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

/// Compiles `wasm`, or loads the machine code cached for exactly these bytes and this
/// wasmtime configuration. A missing or unusable cache is only slower, never an error.
pub fn load_component(
    engine: &wasmtime::Engine,
    wasm: &WasmBytes,
    cache_dir: Option<&Path>,
    name: &str,
) -> Result<Component, String> {
    let compile = || Component::new(engine, &wasm.bytes).map_err(|e| format!("{e:#}"));
    let Some(path) = cache_dir.map(|dir| cache_path(engine, &wasm.sha256, dir, name)) else {
        return compile();
    };
    if path.exists() {
        // SAFETY: the file is one this function wrote with `Component::serialize` into the
        // user's own cache directory, named by the hash of the component and of wasmtime's
        // compatibility settings; wasmtime also checks the header before using it.
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

/// Where the compiled form of the component with hex SHA-256 `sha256` is cached.
fn cache_path(engine: &wasmtime::Engine, sha256: &str, dir: &Path, name: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let component = sha256.get(..24).unwrap_or(sha256);
    dir.join(format!("{name}-{component}-{:016x}.cwasm", hasher.finish()))
}
