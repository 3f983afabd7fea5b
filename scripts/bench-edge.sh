#!/usr/bin/env bash
# The edge benchmark: wrk (Debian) against `certsmith plugin serve` answering one stored
# HTTP-01 token, and against a minimal native hyper handler (host/examples/http01_native.rs)
# answering the same token from the same file store. Prints a Markdown table: requests/s and
# p99 latency under load, mean latency with one connection (the plugin's extra is the cost of
# a fresh instance per request), and the plugin component's size.
#
# usage: scripts/bench-edge.sh [SECONDS]     (after: cargo build --release -p certsmith --example http01_native)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
certsmith=target/release/certsmith
native=target/release/examples/http01_native
plugin=target/plugin-spin/wasm32-wasip2/release/certsmith_plugin_spin.wasm
for f in "$certsmith" "$native" "$plugin"; do
  [ -e "$f" ] || { echo "missing $f: cargo build --release -p certsmith --example http01_native" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

state=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$state"; }
trap cleanup EXIT
token=benchTOKEN_0123456789-abcdefghijklmnopqrstuvwx
mkdir -p "$state/http01"
printf '%s.%s' "$token" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" > "$state/http01/$token"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

plugin_port=$(free_port)
"$certsmith" --state-dir "$state" plugin serve --listen "127.0.0.1:$plugin_port" 2>/dev/null &
pids+=($!)
native_port=$(free_port)
"$native" "$state" "127.0.0.1:$native_port" &
pids+=($!)
wait_port "$plugin_port"
wait_port "$native_port"
path=/.well-known/acme-challenge/$token
curl -fsS "http://127.0.0.1:$plugin_port$path" >/dev/null   # compiles and caches the plugin
curl -fsS "http://127.0.0.1:$native_port$path" >/dev/null

# wrk's latency distribution: requests/s and p99 (in ms) of one run.
measure() {
  local out
  out=$(wrk -t1 -c"$2" -d"${seconds}s" --latency "http://127.0.0.1:$1$path")
  local rps p99 mean
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  mean=$(awk '$1=="Latency" {print $2; exit}' <<<"$out")
  echo "$rps $p99 $mean"
}
echo "| server | requests/s (16 connections) | p99 (16 connections) | mean latency (1 connection) |"
echo "| --- | --- | --- | --- |"
for name in plugin native; do
  port_var=${name}_port
  read -r rps p99 _ < <(measure "${!port_var}" 16)
  read -r _ _ mean < <(measure "${!port_var}" 1)
  label=$([ "$name" = plugin ] && echo '`certsmith plugin serve` (built-in plugin, fresh instance per request)' || echo 'native hyper handler (`http01_native`)')
  echo "| $label | $rps | $p99 | $mean |"
done
echo
echo "plugin component: $(stat -c %s "$plugin") bytes ($plugin)"
