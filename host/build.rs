//! Builds the WebAssembly the binary embeds, so a plain `cargo build` yields a complete
//! host: the engine component from the workspace (`core/` + `wit/`; skipped with the
//! `native` feature, which links the engine as a Rust crate instead) and the Spin edge
//! plugin (`plugin-spin/`), the default component of `certsmith plugin serve`.

use std::path::PathBuf;

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
        Ok(path) => println!("cargo:rustc-env=CERTSMITH_PLUGIN_WASM={}", path.display()),
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
        Ok(built) => println!(
            "cargo:rustc-env=CERTSMITH_ENGINE_WASM={}",
            built.path.display()
        ),
        Err(error) => {
            eprintln!("could not build the engine component: {error:#}");
            std::process::exit(1);
        }
    }
}
