//! Builds the WebAssembly the binary embeds, so a plain `cargo build` yields a complete
//! host: the engine component from the workspace (`core/`, `bindings/component/`, `wit/`; skipped with the
//! `native` feature, which links the engine as a Rust crate instead) and the Spin edge
//! plugin (`plugin-spin/`), the default component of `certsmith plugin serve`.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Tells rustc the path of the built `file` as `{var}` and the hex SHA-256 of its bytes as
/// `{var}_SHA256`: the binary names its compiled-code cache by it without hashing the
/// embedded bytes at every start.
fn embed(var: &str, file: &Path) {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("cannot read {}: {error}", file.display());
            std::process::exit(1);
        }
    };
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env={var}={}", file.display());
    println!("cargo:rustc-env={var}_SHA256={digest}");
}

fn main() {
    let root = wasm_build::workspace_root();
    for input in [
        "plugin-spin/src",
        "plugin-spin/Cargo.toml",
        "plugin-spin/Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    match wasm_build::build_plugin(&root, &root.join("target/plugin-spin")) {
        Ok(path) => embed("CERTSMITH_PLUGIN_WASM", &path),
        Err(error) => {
            eprintln!("could not build the Spin plugin: {error:#}");
            std::process::exit(1);
        }
    }
    if std::env::var_os("CARGO_FEATURE_NATIVE").is_some() {
        return;
    }
    for input in [
        "core/src",
        "core/Cargo.toml",
        "bindings/component",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        eprintln!("OUT_DIR is not set: run this through cargo");
        std::process::exit(1);
    };
    let built =
        wasm_build::build_component(&root, &root.join("target/wasm-component"), &out_dir, None)
            .and_then(|built| wasm_build::check_interfaces(&built).map(|()| built));
    match built {
        Ok(built) => embed("CERTSMITH_ENGINE_WASM", &built.path),
        Err(error) => {
            eprintln!("could not build the engine component: {error:#}");
            std::process::exit(1);
        }
    }
}
