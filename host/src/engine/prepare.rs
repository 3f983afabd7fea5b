//! Pre-initialising the engine component (Wizer, `wasmtime-wizer`): its `prepare` export is
//! run once, in a throwaway instance, and the memory it leaves (the P-256 and P-384 tables
//! of base-point multiples that every signature reads) is written back into the component
//! as data. Compiled and cached like any component, the result starts every instance with
//! the tables built instead of building them at its first signature, which is the largest
//! per-start cost left inside WebAssembly.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{Component, Instance, Lift, Linker, WasmList};
use wasmtime::{Config, Engine, Store};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use super::component::{HostState, link};

/// The export the component runs to build its tables.
const PREPARE: &str = "prepare";

/// How often the throwaway instance's clock ticks, and how many ticks `prepare` may take
/// (about 10 s; it takes milliseconds): a component gone wrong (`--engine FILE`) fails
/// its first start instead of hanging it.
const TICK: std::time::Duration = std::time::Duration::from_millis(100);
const DEADLINE_TICKS: u64 = 100;

/// `wasm` with `prepare` run and its memory snapshotted, or why not. `config` is the
/// engine's; the throwaway instance runs under the engine's limits and imports.
pub(super) fn preinitialize(config: &Config, wasm: &[u8]) -> Result<Vec<u8>, String> {
    let fail = |e: wasmtime::Error| format!("{e:#}");
    let mut wizer = Wizer::new();
    // Kept: the host's bindings expect every export of the world, and a second call only
    // finds the tables built.
    wizer.init_func(PREPARE).keep_init_func(true);
    let (context, instrumented) = wizer.instrument_component(wasm).map_err(fail)?;
    // The throwaway instance runs for milliseconds: compiling it quickly matters more than
    // its code's speed.
    let mut config = config.clone();
    config
        .cranelift_opt_level(wasmtime::OptLevel::None)
        .epoch_interruption(true);
    let engine = Engine::new(&config).map_err(fail)?;
    crate::epoch::start_clock(&engine, TICK);
    let component = Component::new(&engine, &instrumented).map_err(fail)?;
    let mut linker = Linker::new(&engine);
    link(&mut linker).map_err(fail)?;
    let mut store = Store::new(&engine, HostState::new());
    store.limiter(HostState::limiter);
    store.set_epoch_deadline(DEADLINE_TICKS);
    let instance = linker.instantiate(&mut store, &component).map_err(fail)?;
    let prepare = instance
        .get_typed_func::<(), ()>(&mut store, PREPARE)
        .map_err(fail)?;
    prepare.call(&mut store, ()).map_err(fail)?;
    // Randomness drawn now would be in every instance's memory: the same for all of them.
    if store.data().draws() > 0 {
        return Err(format!(
            "{PREPARE} drew randomness, which a snapshot would give every instance alike"
        ));
    }
    let mut source = Snapshotted {
        store,
        instance,
        failure: None,
    };
    let snapshot = {
        let mut future = pin!(wizer.snapshot_component(&context, &mut source));
        // Every read of the instance below is a plain synchronous call: the future is done
        // at its first poll.
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(result) => result.map_err(fail)?,
            Poll::Pending => return Err("the snapshot did not complete at once".to_owned()),
        }
    };
    match source.failure {
        Some(failure) => Err(failure),
        None => Ok(snapshot),
    }
}

/// The instance whose state Wizer reads through the accessors it added to the component.
struct Snapshotted {
    store: Store<HostState>,
    instance: Instance,
    /// The first accessor that failed (the snapshot is then not used).
    failure: Option<String>,
}

impl Snapshotted {
    /// Calls `func` of the exported `instance`, or records why it could not.
    fn read<R: Lift + 'static, T: Default>(
        &mut self,
        instance: &str,
        func: &str,
        take: impl FnOnce(&Store<HostState>, R) -> T,
    ) -> T {
        match self.try_read(instance, func) {
            Ok(value) => take(&self.store, value),
            Err(e) => {
                self.failure
                    .get_or_insert(format!("{instance}#{func}: {e:#}"));
                T::default()
            }
        }
    }

    /// Calls `func` of the exported `instance`.
    fn try_read<R: Lift + 'static>(&mut self, instance: &str, func: &str) -> wasmtime::Result<R> {
        let missing = || wasmtime::format_err!("no such export");
        let (_, outer) = self
            .instance
            .get_export(&mut self.store, None, instance)
            .ok_or_else(missing)?;
        let (_, inner) = self
            .instance
            .get_export(&mut self.store, Some(&outer), func)
            .ok_or_else(missing)?;
        let func = self
            .instance
            .get_typed_func::<(), (R,)>(&mut self.store, inner)?;
        Ok(func.call(&mut self.store, ())?.0)
    }
}

impl ComponentInstanceState for Snapshotted {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        // Read in place: the list is the instance's whole memory.
        self.read(instance, func, |store, list: WasmList<u8>| {
            contents(list.as_le_slice(store));
        });
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.read(instance, func, |_, value| value)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.read(instance, func, |_, value| value)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.read(instance, func, |_, value: f32| value.to_bits())
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.read(instance, func, |_, value: f64| value.to_bits())
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Engine, Store};

    use super::super::component::{HostState, link, wasm_config};
    use super::preinitialize;

    /// The engine component this binary embeds.
    const ENGINE: &[u8] = include_bytes!(env!("CERTSMITH_ENGINE_WASM"));

    /// The wasm fuel (about one unit per instruction) a fresh instance of `wasm` burns in
    /// `prepare`: building the tables and signing once when they are not built yet, only
    /// signing when they are.
    fn fuel_burnt_in_prepare(wasm: &[u8]) -> u64 {
        let mut config = wasm_config();
        config.epoch_interruption(false).consume_fuel(true);
        let engine = Engine::new(&config).expect("engine");
        let component = Component::new(&engine, wasm).expect("compile");
        let mut linker = Linker::new(&engine);
        link(&mut linker).expect("link");
        let mut store = Store::new(&engine, HostState::new());
        store.set_fuel(u64::MAX / 2).expect("fuel");
        let instance = linker
            .instantiate(&mut store, &component)
            .expect("instance");
        let prepare = instance
            .get_typed_func::<(), ()>(&mut store, "prepare")
            .expect("prepare");
        let before = store.get_fuel().expect("fuel");
        prepare.call(&mut store, ()).expect("call");
        before - store.get_fuel().expect("fuel")
    }

    #[test]
    fn a_prepared_engine_starts_with_its_signing_tables_built() {
        let prepared =
            preinitialize(&wasm_config(), ENGINE).expect("the engine component is pre-initialised");
        let cold = fuel_burnt_in_prepare(ENGINE);
        let warm = fuel_burnt_in_prepare(&prepared);
        assert!(
            warm * 3 < cold,
            "signing in a prepared instance should skip building the tables: {warm} against {cold} units"
        );
    }

    #[test]
    fn what_is_not_an_engine_component_is_refused_with_the_reason() {
        let not_wasm = b"\0asm but not really";
        let err = preinitialize(&wasm_config(), not_wasm).expect_err("not a component");
        assert!(!err.is_empty());
    }
}
