//! Compiled WebAssembly components cached on disk: compiling with Cranelift takes seconds,
//! loading the cached machine code milliseconds. A cache file is keyed by the component's
//! hash and wasmtime's compatibility hash, so a new component or a new wasmtime never loads
//! stale code.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

/// Compiles `bytes`, or loads the machine code cached for exactly these bytes and this
/// wasmtime configuration. A missing or unusable cache is only slower, never an error.
pub fn load_component(
    engine: &wasmtime::Engine,
    bytes: &[u8],
    cache_dir: Option<&Path>,
    name: &str,
) -> Result<Component, String> {
    let compile = || Component::new(engine, bytes).map_err(|e| format!("{e:#}"));
    let Some(path) = cache_dir.map(|dir| cache_path(engine, bytes, dir, name)) else {
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

/// Where the compiled form of `bytes` is cached.
fn cache_path(engine: &wasmtime::Engine, bytes: &[u8], dir: &Path, name: &str) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = Sha256::digest(bytes);
    let component: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{name}-{component}-{:016x}.cwasm", hasher.finish()))
}
