#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install what is missing, build certsmith,
# start a local Pebble CA on loopback, issue a real certificate with `certsmith issue`,
# show it with `certsmith inspect`, serve it over HTTPS and fetch the page with curl
# trusting only Pebble's root, then stop everything this script started.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing what is missing"
need_apt=()
command -v pebble >/dev/null || need_apt+=(pebble)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
# The engine component is built for wasm32-unknown-unknown, the edge plugin for wasm32-wasip2.
for target in wasm32-unknown-unknown wasm32-wasip2; do
  rustup target list --installed | grep -qx "$target" || rustup target add "$target"
done

step "Building certsmith (the engine component and the edge plugin are built and embedded by this build)"
# The plugin is its own cargo workspace, built by the host's build script: fetch its crates first.
cargo fetch --locked --manifest-path plugin-spin/Cargo.toml
cargo build --release -p certsmith
certsmith=$PWD/target/release/certsmith

# shellcheck source=scripts/pebble-env.sh
. scripts/pebble-env.sh
work=$(mktemp -d /tmp/certsmith-quickstart.XXXXXX)
server_pid=
cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  stop_pebble
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

step "Starting a local Pebble CA on 127.0.0.1:14000"
start_pebble

step "Issuing a certificate for quickstart.example.test (HTTP-01 on 127.0.0.1:$PEBBLE_HTTP_PORT)"
"$certsmith" issue -d quickstart.example.test \
  --server "$PEBBLE_DIRECTORY" --ca-cert "$PEBBLE_TLS_ROOT" \
  --email admin@example.test --accept-tos \
  --state-dir "$work/state" --http "127.0.0.1:$PEBBLE_HTTP_PORT"

# The lineage's stable path (a symlink to its current generation).
live=$(find "$work/state/certs" -mindepth 2 -maxdepth 2 -name quickstart.example.test)

step "The certificate"
"$certsmith" inspect "$live/fullchain.pem"

step "Leaving it to certsmith run: it serves the stored certificate over HTTPS on 127.0.0.1:8443, obtains a second one, and renews both when due"
curl -fsS --cacert "$PEBBLE_TLS_ROOT" "$PEBBLE_MGMT/roots/0" > "$work/pebble-root.pem"
cat > "$work/certsmith.toml" <<TOML
state_dir = "$work/state"
[acme]
server = "$PEBBLE_DIRECTORY"
ca_cert = "$PEBBLE_TLS_ROOT"
email = "admin@example.test"
accept_tos = true
[https]
listen = "127.0.0.1:8443"
http_listen = "127.0.0.1:$PEBBLE_HTTP_PORT"
static_body = "hello from certsmith run"
[admin]
listen = "127.0.0.1:8444"
[[certificate]]
names = ["quickstart.example.test"]
[[certificate]]
names = ["second.example.test"]
TOML
cat "$work/certsmith.toml"
"$certsmith" run --config "$work/certsmith.toml" &
server_pid=$!
served() {
  curl -fsS --cacert "$work/pebble-root.pem" --resolve "$1:8443:127.0.0.1" \
    -o /dev/null "https://$1:8443/" 2>/dev/null
}
for _ in $(seq 1 100); do
  served quickstart.example.test && served second.example.test && break
  sleep 0.1
done
for name in quickstart.example.test second.example.test; do
  curl -fsS --cacert "$work/pebble-root.pem" --resolve "$name:8443:127.0.0.1" \
    -w "  <- HTTPS %{http_code} for $name, certificate verified against Pebble's root\n" \
    "https://$name:8443/"
  echo
done
step "What the daemon reports (GET http://127.0.0.1:8444/status)"
curl -fsS http://127.0.0.1:8444/status

step "Done: real certificates from a real (local) CA, served over HTTPS and kept valid by certsmith run"
