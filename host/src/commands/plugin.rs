//! `certsmith plugin serve`: the edge plugin (or another Spin HTTP component) on this
//! machine, until SIGINT or SIGTERM.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use certsmith::{confine, layout};

use super::{Failure, exit};
use crate::cli::PluginServeArgs;
use crate::plugin::{self, EMBEDDED_PLUGIN, Plugin};
use crate::storage::{StorageSpec, Store, prepare_part};
use crate::wasm_cache::WasmBytes;

/// The prefix of the environment variables Spin reads application variables from.
const SPIN_VARIABLE_PREFIX: &str = "SPIN_VARIABLE_";

/// The component's variables: `SPIN_VARIABLE_<NAME>` from the environment, then `--variable`.
fn variables(args: &PluginServeArgs) -> HashMap<String, String> {
    let mut variables: HashMap<String, String> = std::env::vars()
        .filter_map(|(name, value)| {
            let name = name.strip_prefix(SPIN_VARIABLE_PREFIX)?;
            Some((name.to_ascii_lowercase(), value))
        })
        .collect();
    variables.extend(args.variables.iter().cloned());
    variables
}

/// How many requests an instance of the built-in plugin answers by default: it keeps no
/// state between requests, so reuse only saves the cost of instantiating.
const BUILT_IN_INSTANCE_REUSE: u32 = 1000;

/// Confines this process, before its threads start, to what `plugin serve` needs of the
/// file system when the store is files: `http01/` (the tokens) and `cache/` (compiled
/// code) under the state directory, both created here, and the `--component` file. The
/// account and certificate keys beside them become unreadable to the process. With Redis
/// the process is not confined (it reads TLS roots wherever the system keeps them).
pub fn confine(
    args: &PluginServeArgs,
    state_dir: &Path,
    storage: &StorageSpec,
) -> Result<(), Failure> {
    if !matches!(storage, StorageSpec::Files) {
        return Ok(());
    }
    let local = |message: String| Failure::new(exit::LOCAL, message);
    let prepare = |part| prepare_part(state_dir, part).map_err(|e| local(e.to_string()));
    let (tokens, cache) = (prepare(layout::HTTP01)?, prepare(layout::CACHE_DIR)?);
    let component: Vec<&Path> = args.component.iter().map(PathBuf::as_path).collect();
    match confine::to_paths(&[&tokens, &cache], &component).map_err(local)? {
        confine::Confinement::Full => tracing::info!(
            "file access confined to {} and {} (Landlock)",
            tokens.display(),
            cache.display()
        ),
        confine::Confinement::Partial => tracing::warn!(
            "file access only partly confined: this kernel's Landlock is older than ABI 5"
        ),
        confine::Confinement::None => tracing::warn!(
            "file access not confined: this kernel has no Landlock; the process can read every key in {}",
            state_dir.display()
        ),
    }
    Ok(())
}

/// Runs `certsmith plugin serve`.
pub async fn serve(
    args: PluginServeArgs,
    state_dir: &Path,
    storage: &StorageSpec,
) -> Result<(), Failure> {
    let local = |message: String| Failure::new(exit::LOCAL, message);
    let wasm = WasmBytes::file_or(args.component.as_deref(), &EMBEDDED_PLUGIN, "component")
        .map_err(local)?;
    let kv = Store::open_part(storage, state_dir, layout::HTTP01)
        .await
        .map_err(|e| local(e.to_string()))?;
    // Another component may rely on Spin's fresh instance per request.
    let default_reuse = if args.component.is_some() {
        1
    } else {
        BUILT_IN_INSTANCE_REUSE
    };
    let reuse = args.instance_reuse.unwrap_or(default_reuse);
    let plugin = Plugin::load(
        &wasm,
        Some(&state_dir.join(layout::CACHE_DIR)),
        kv.clone(),
        variables(&args),
        reuse,
    )
    .map_err(|e| local(e.to_string()))?;
    let listener = plugin::bind(args.listen)
        .await
        .map_err(|e| local(e.to_string()))?;
    let component = args.component.as_ref().map_or_else(
        || "the built-in HTTP-01 plugin".to_owned(),
        |p| p.display().to_string(),
    );
    eprintln!(
        "certsmith: serving {component} on http://{} (key-value store: {}; {})",
        args.listen,
        kv.describe(),
        match reuse {
            1 => "a fresh instance per request".to_owned(),
            n => format!("an instance answers up to {n} requests"),
        }
    );
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::new(exit::OTHER, format!("cannot watch for SIGTERM: {e}")))?;
    tokio::select! {
        () = plugin::serve(plugin, listener) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
