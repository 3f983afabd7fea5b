#!/usr/bin/env bash
# Every test of the project: formatting, lints, the Rust test suites, the engine component
# (built, then gated on its imports and size), the JS build and its Node tests.
# This is what CI runs (.ci/run installs the tools first).
set -euo pipefail
cd "$(dirname "$0")"

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The component's size gate: the 400 KiB target (README "Sizes").
COMPONENT_MAX_BYTES=${COMPONENT_MAX_BYTES:-$((400 * 1024))}
# The JS package's wasm module after wasm-opt: 481,675 bytes measured (README "Sizes"); the
# gate catches growth beyond a few KiB.
JS_MAX_BYTES=${JS_MAX_BYTES:-$((480 * 1024))}

section "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path plugin-spin/Cargo.toml -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check

section "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo clippy on the host's native-engine build"
cargo clippy -q -p certsmith --all-targets --features native -- -D warnings

section "cargo clippy on the WebAssembly bindings (bindings/component, bindings/js)"
# The component build's RUSTFLAGS (tools/wasm-build COMPONENT_RUSTFLAGS), so both share a cache.
RUSTFLAGS='--cfg getrandom_backend="custom" --cfg sha2_backend_soft="compact"' \
  cargo clippy -q -p certsmith-component --lib --target wasm32-unknown-unknown \
  --target-dir target/wasm-component -- -D warnings
cargo clippy -q -p certsmith-js --lib --target wasm32-unknown-unknown \
  --target-dir target/wasm-js -- -D warnings

section "cargo clippy on the Spin plugin (native tests and the wasm32-wasip2 component)"
cargo clippy -q --manifest-path plugin-spin/Cargo.toml --target-dir target/plugin-spin --all-targets -- -D warnings
cargo clippy -q --manifest-path plugin-spin/Cargo.toml --target-dir target/plugin-spin --lib --target wasm32-wasip2 -- -D warnings

section "cargo test (the end-to-end tests against Pebble and Redis are host/tests/e2e_*.rs)"
# crash-points: the e2e tests abort certsmith at named points (CERTSMITH_CRASH_AT); the
# feature only compiles those points in.
cargo test --workspace --features certsmith/crash-points

section "cargo test of the Spin plugin's routing and validation"
cargo test --manifest-path plugin-spin/Cargo.toml --target-dir target/plugin-spin --lib

section "cargo clippy and the unit tests of the fuzz targets (fuzz/, its own workspace)"
cargo clippy -q --manifest-path fuzz/Cargo.toml --all-targets --target-dir target/fuzz -- -D warnings
cargo test -q --manifest-path fuzz/Cargo.toml --lib --target-dir target/fuzz

section "a short fuzz run: every target for 3 s from its corpus (scripts/fuzz.sh; README \"Fuzzing\")"
scripts/fuzz.sh 3

section "binaryen (wasm-opt) for the component build"
(cd tools/binaryen && npm ci --no-audit --no-fund --silent)

section "engine component: build, import gate, size gate"
cargo run -q -p wasm-build -- component \
  --wasm-opt tools/binaryen/node_modules/binaryen/bin/wasm-opt --max-bytes "$COMPONENT_MAX_BYTES"

section "engine JS build (wasm-bindgen, then wasm-opt), size gate"
cargo run -q -p wasm-build -- js --wasm-opt tools/binaryen/node_modules/binaryen/bin/wasm-opt \
  --max-bytes "$JS_MAX_BYTES"
cargo run -q -p wasm-build -- js --web
cargo build -q -p certsmith-core --example known_answers

section "node --test tests/node (the JS engine against Pebble: tests/node/order.e2e.test.cjs)"
node --test tests/node/

section "deno test tests/deno (the web build under Deno against Pebble; README's Deno and Workers code)"
[ -x tests/node_modules/.bin/deno ] || { echo "no Deno in tests/node_modules: run (cd tests && npm ci), as .ci/run does" >&2; exit 1; }
tests/node_modules/.bin/deno test --allow-read=README.md,tests/deno,tests/workerd,target/wasm/web,target/deno-e2e \
  --allow-write=target/deno-e2e --allow-net=127.0.0.1,localhost \
  --allow-run=openssl,pebble,pebble-challtestsrv tests/deno/

section "node --test tests/workerd (a Worker ordering under workerd; the HTTP-01 responder Worker with certsmith --http-edge)"
node --test tests/workerd/
