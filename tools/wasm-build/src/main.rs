//! `wasm-build`: builds the engine component (with its import and size gates) or the JS
//! package.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// Builds certsmith's engine for WebAssembly.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The component: imports only wasi:random; fails over the size budget.
    Component {
        /// Largest acceptable component, bytes.
        #[arg(long, default_value_t = 400 * 1024)]
        max_bytes: usize,
        /// binaryen's wasm-opt (binary or node script) to shrink the core module first.
        #[arg(long)]
        wasm_opt: Option<PathBuf>,
    },
    /// The wasm-bindgen package for JS runtimes: for Node (CommonJS) in target/wasm/js, with
    /// `--web` an ES module for Deno, Workers and browsers in target/wasm/web.
    Js {
        /// binaryen's wasm-opt (binary or node script) to shrink the package's module.
        #[arg(long)]
        wasm_opt: Option<PathBuf>,
        /// Build the ES module (`wasm-bindgen --target web`) instead of the Node package.
        #[arg(long)]
        web: bool,
        /// Largest acceptable wasm module of the package, bytes (no budget when absent).
        #[arg(long)]
        max_bytes: Option<usize>,
    },
}

fn main() -> Result<()> {
    let root = wasm_build::workspace_root();
    let out = root.join("target/wasm");
    match Cli::parse().command {
        Command::Component {
            max_bytes,
            wasm_opt,
        } => {
            let built = wasm_build::build_component(
                &root,
                &root.join("target/wasm-component"),
                &out,
                wasm_opt.as_deref(),
            )?;
            println!("component: {}", built.path.display());
            println!("imports: {}", built.imports.join(", "));
            println!("exports: {}", built.exports.join(", "));
            println!(
                "size: {} bytes ({} KiB)",
                built.bytes.len(),
                built.bytes.len() / 1024
            );
            wasm_build::check_interfaces(&built)?;
            within_budget("the component", built.bytes.len(), max_bytes)?;
        }
        Command::Js {
            wasm_opt,
            web,
            max_bytes,
        } => {
            let (target, dir) = if web {
                (wasm_build::JsTarget::Web, out.join("web"))
            } else {
                (wasm_build::JsTarget::Nodejs, out.join("js"))
            };
            let module = wasm_build::build_js(
                &root,
                &root.join("target/wasm-js"),
                &dir,
                target,
                wasm_opt.as_deref(),
            )?;
            let size = std::fs::metadata(&module)
                .with_context(|| format!("reading the size of {}", module.display()))?
                .len();
            println!(
                "js package ({}): {} ({size} bytes of wasm)",
                target.as_str(),
                dir.display()
            );
            if let Some(max_bytes) = max_bytes {
                let size = usize::try_from(size).unwrap_or(usize::MAX);
                within_budget("the JS package's wasm module", size, max_bytes)?;
            }
        }
    }
    Ok(())
}

/// Fails when `what` (`size` bytes) is over its `max_bytes` budget.
fn within_budget(what: &str, size: usize, max_bytes: usize) -> Result<()> {
    if size > max_bytes {
        bail!("{what} is {size} bytes, over the {max_bytes}-byte budget");
    }
    Ok(())
}
