#!/usr/bin/env bash
# The edge benchmark: wrk (Debian) against `certsmith plugin serve` answering one stored
# HTTP-01 token, and against a minimal native hyper handler (host/examples/http01_native.rs)
# answering the same token from the same file store. The plugin runs twice: as it does by
# default (an instance answers many requests in turn) and with `--instance-reuse 1` (a fresh
# instance per request, Spin's semantics). Prints a Markdown table: requests/s and p99 latency
# under load, the server's CPU time per request under that load (from /proc; fresh minus
# reused is the cost of instantiating per request), mean latency with one connection, and
# the plugin component's size.
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
plugin_pid=$!
pids+=($!)
fresh_port=$(free_port)
"$certsmith" --state-dir "$state" plugin serve --listen "127.0.0.1:$fresh_port" --instance-reuse 1 2>/dev/null &
fresh_pid=$!
pids+=($!)
native_port=$(free_port)
"$native" "$state" "127.0.0.1:$native_port" &
native_pid=$!
pids+=($!)
path=/.well-known/acme-challenge/$token
for port in "$plugin_port" "$fresh_port" "$native_port"; do
  wait_port "$port"
  curl -fsS "http://127.0.0.1:$port$path" >/dev/null   # the first request compiles the plugin
  wrk -t1 -c16 -d2s "http://127.0.0.1:$port$path" >/dev/null   # warm-up: instance pools, caches
done

# CPU time (user + system, in clock ticks) the process PID has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One wrk run against PORT with CONNECTIONS: requests/s, p99, mean latency, and the CPU time
# per request (µs) of the server PID.
measure() {
  local out before after
  before=$(cpu_ticks "$3")
  out=$(wrk -t1 -c"$2" -d"${seconds}s" --latency "http://127.0.0.1:$1$path")
  after=$(cpu_ticks "$3")
  local rps p99 mean requests
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  mean=$(awk '$1=="Latency" {print $2; exit}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "$rps $p99 $mean $(( (after - before) * 1000000 / $(getconf CLK_TCK) / requests ))"
}
echo "| server | requests/s (16 connections) | p99 (16 connections) | server CPU per request (16 connections) | mean latency (1 connection) |"
echo "| --- | --- | --- | --- | --- |"
for name in plugin fresh native; do
  port_var=${name}_port
  pid_var=${name}_pid
  read -r rps p99 _ cpu < <(measure "${!port_var}" 16 "${!pid_var}")
  read -r _ _ mean _ < <(measure "${!port_var}" 1 "${!pid_var}")
  case $name in
    plugin) label='`certsmith plugin serve` (built-in plugin, instances reused)' ;;
    fresh) label='`certsmith plugin serve --instance-reuse 1` (a fresh instance per request)' ;;
    native) label='native hyper handler (`http01_native`)' ;;
  esac
  echo "| $label | $rps | $p99 | $cpu µs | $mean |"
done
echo
echo "plugin component: $(stat -c %s "$plugin") bytes ($plugin)"
