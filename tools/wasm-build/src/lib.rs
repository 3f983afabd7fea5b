//! Builds certsmith's engine for WebAssembly: the component (wasm32-unknown-unknown core
//! module made into a component with wit-component) and the wasm-bindgen package for JS.
//! Used by the `wasm-build` command and by the host's build script.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The one import the engine component may have.
pub const ALLOWED_IMPORT: &str = "wasi:random/random@0.2.0";

/// The interfaces the engine component must export.
pub const REQUIRED_EXPORTS: [&str; 3] = [
    "certsmith:acme/types@0.1.0",
    "certsmith:acme/helpers@0.1.0",
    "certsmith:acme/acme@0.1.0",
];

/// The workspace root (this crate lives in `tools/wasm-build`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command, failing with its name if it cannot start or exits non-zero.
fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// A cargo command for one of the engine's binding crates (`bindings/`) on
/// wasm32-unknown-unknown, with its own target dir (the component and JS builds need
/// different cfgs and must never share artifacts).
fn cargo_engine(root: &Path, target_dir: &Path, package: &str) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["build", "-p", package, "--lib"])
        .args(["--profile", "wasm"])
        .args(["--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(target_dir);
    without_outer_cargo_env(&mut command);
    command
}

/// A build script calling us runs with its own cargo variables; don't leak them into a
/// nested build for another target.
fn without_outer_cargo_env(command: &mut Command) {
    for name in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(name);
    }
}

/// RUSTFLAGS of the component build: getrandom calls the engine's `wasi:random` hook, and
/// sha2 uses its compact software backend (the same functions in a fraction of the code; the
/// engine hashes a few kilobytes per request).
pub const COMPONENT_RUSTFLAGS: &str =
    "--cfg getrandom_backend=\"custom\" --cfg sha2_backend_soft=\"compact\"";

/// The component built from the workspace's engine.
pub struct BuiltComponent {
    /// Where it was written.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its imports (interface names).
    pub imports: Vec<String>,
    /// Its exports (interface names).
    pub exports: Vec<String>,
}

/// Builds the engine component into `out_dir`, running `wasm_opt` on the core module first
/// when given (path of binaryen's `wasm-opt`).
pub fn build_component(
    root: &Path,
    target_dir: &Path,
    out_dir: &Path,
    wasm_opt: Option<&Path>,
) -> Result<BuiltComponent> {
    run(
        cargo_engine(root, target_dir, "certsmith-component").env("RUSTFLAGS", COMPONENT_RUSTFLAGS)
    )?;
    let module_path = target_dir.join("wasm32-unknown-unknown/wasm/certsmith_component.wasm");
    let mut module = std::fs::read(&module_path)
        .with_context(|| format!("cannot read {}", module_path.display()))?;
    if let Some(wasm_opt) = wasm_opt {
        std::fs::create_dir_all(out_dir)?;
        let optimized = out_dir.join("certsmith_core.opt.wasm");
        optimize(wasm_opt, &module_path, &optimized)?;
        module = std::fs::read(&optimized)
            .with_context(|| format!("cannot read {}", optimized.display()))?;
    }
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .context("the engine module has no usable component-type section")?
        .encode()
        .context("cannot make a component of the engine module")?;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let path = out_dir.join("certsmith_engine.wasm");
    std::fs::write(&path, &component)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let (imports, exports) = interfaces(&component)?;
    Ok(BuiltComponent {
        path,
        bytes: component,
        imports,
        exports,
    })
}

/// Shrinks a core module with binaryen's wasm-opt (`-Oz`, which also drops the name
/// section; a stripped module needs its features named: exactly the ones rustc enables for
/// wasm32-unknown-unknown) into `optimized` (which may be `module` itself).
fn optimize(wasm_opt: &Path, module: &Path, optimized: &Path) -> Result<()> {
    let mut command = if wasm_opt.extension().is_some_and(|e| e == "js") {
        let mut c = Command::new("node");
        c.arg(wasm_opt);
        c
    } else {
        Command::new(wasm_opt)
    };
    run(command
        .args(["-Oz", "--enable-bulk-memory", "--enable-sign-ext"])
        .args([
            "--enable-nontrapping-float-to-int",
            "--enable-mutable-globals",
        ])
        .args(["--enable-multivalue", "--enable-reference-types"])
        .arg(module)
        .arg("-o")
        .arg(optimized))
}

/// The imported and exported interface names of a component.
pub fn interfaces(component: &[u8]) -> Result<(Vec<String>, Vec<String>)> {
    let decoded = wit_component::decode(component).context("cannot decode the component")?;
    let resolve = decoded.resolve();
    let wit_component::DecodedWasm::Component(_, world) = &decoded else {
        bail!("expected a component, found a WIT package");
    };
    let world = &resolve.worlds[*world];
    let names = |items: &mut dyn Iterator<Item = &wit_parser::WorldKey>| -> Vec<String> {
        items.map(|key| resolve.name_world_key(key)).collect()
    };
    Ok((
        names(&mut world.imports.keys()),
        names(&mut world.exports.keys()),
    ))
}

/// Checks the component imports nothing but `wasi:random` and exports the engine.
pub fn check_interfaces(built: &BuiltComponent) -> Result<()> {
    if built.imports != [ALLOWED_IMPORT] {
        bail!(
            "the engine component must import exactly {ALLOWED_IMPORT}, but imports {:?}",
            built.imports
        );
    }
    for export in REQUIRED_EXPORTS {
        if !built.exports.iter().any(|e| e == export) {
            bail!(
                "the engine component does not export {export} (exports {:?})",
                built.exports
            );
        }
    }
    Ok(())
}

/// The JS module flavours the package is built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsTarget {
    /// CommonJS for Node (`require`), the module loaded from disk at `require` time.
    Nodejs,
    /// An ES module for Deno, Workers and browsers: call `initSync({module})` or
    /// `await init()` before using the exports.
    Web,
}

impl JsTarget {
    /// wasm-bindgen's `--target` name.
    pub fn as_str(self) -> &'static str {
        match self {
            JsTarget::Nodejs => "nodejs",
            JsTarget::Web => "web",
        }
    }
}

/// Builds the wasm-bindgen package into `out_dir` for `target`, running `wasm_opt` on its
/// module when given (path of binaryen's `wasm-opt`). The web package gets a `package.json`
/// saying it is an ES module.
pub fn build_js(
    root: &Path,
    target_dir: &Path,
    out_dir: &Path,
    target: JsTarget,
    wasm_opt: Option<&Path>,
) -> Result<PathBuf> {
    // wasm-bindgen needs the target_features section that stripping removes.
    run(cargo_engine(root, target_dir, "certsmith-js").env("CARGO_PROFILE_WASM_STRIP", "false"))?;
    let module = target_dir.join("wasm32-unknown-unknown/wasm/certsmith_js.wasm");
    // The package keeps the engine's name (`certsmith_core.js`, `certsmith_core_bg.wasm`):
    // it is what users import.
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            target.as_str(),
            "--out-name",
            "certsmith_core",
            "--out-dir",
        ])
        .arg(out_dir)
        .arg(&module))
    .context("wasm-bindgen (install with: cargo install wasm-bindgen-cli --version 0.2.130)")?;
    if target == JsTarget::Web {
        let manifest = out_dir.join("package.json");
        std::fs::write(
            &manifest,
            concat!(
                r#"{"name": "certsmith-core", "type": "module", "#,
                r#""main": "certsmith_core.js", "types": "certsmith_core.d.ts"}"#,
                "\n"
            ),
        )
        .with_context(|| format!("cannot write {}", manifest.display()))?;
    }
    let module = out_dir.join("certsmith_core_bg.wasm");
    if let Some(wasm_opt) = wasm_opt {
        optimize(wasm_opt, &module, &module)?;
    }
    Ok(module)
}

/// Builds the Spin edge plugin (`plugin-spin/`, its own workspace) for `wasm32-wasip2` in
/// release mode into `target_dir`; returns the component's path.
pub fn build_plugin(root: &Path, target_dir: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root.join("plugin-spin"))
        .args(["build", "--release", "--lib", "--locked"])
        .args(["--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(target_dir);
    without_outer_cargo_env(&mut command);
    run(&mut command)?;
    let path = target_dir.join("wasm32-wasip2/release/certsmith_plugin_spin.wasm");
    if !path.is_file() {
        bail!("the plugin build wrote no {}", path.display());
    }
    Ok(path)
}
