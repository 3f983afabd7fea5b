//! The clock behind wasmtime's epoch deadlines: a thread that advances an engine's epoch at
//! a fixed pace for as long as the engine lives, so a store's deadline (in ticks) bounds how
//! long guest code may run.

use std::time::Duration;

/// Advances `engine`'s epoch every `tick` until the engine is dropped.
pub fn start_clock(engine: &wasmtime::Engine, tick: Duration) {
    let clock = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = clock.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(tick);
        }
    });
}
