#!/usr/bin/env bash
# `certsmith list` over N stored lineages, on the file store and on Redis: prints the wall
# time of each of 3 runs. usage: scripts/bench-list.sh [N] [CERTSMITH_BINARY]
# Needs openssl, redis-server and redis-cli (Debian). Everything runs on 127.0.0.1 and is
# stopped by PID on exit.
set -euo pipefail
N=${1:-10000}
BIN=${2:-target/release/certsmith}
work=$(mktemp -d)
port=26379
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; rm -rf "$work"' EXIT

cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj /CN=bench.example.test -addext subjectAltName=DNS:bench.example.test \
  -keyout k.pem -out cert.pem 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in k.pem -out key.pem
: > chain.pem
cp cert.pem fullchain.pem
echo '{}' > meta.json

# The file store: certs/<ca>/<name> a symlink to its generation, as certsmith writes it.
python3 - "$N" <<'PY'
import os, shutil, sys
n = int(sys.argv[1])
ca = 'state/certs/bench-ca'
for i in range(1, n + 1):
    name = f'n{i}.example.test'
    gen = f'{ca}/.generations/{name}/1'
    os.makedirs(gen)
    for f in ['cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem', 'meta.json']:
        shutil.copyfile(f, f'{gen}/{f}')
    os.symlink(f'.generations/{name}/1', f'{ca}/{name}')
PY

# Redis: the same five keys per lineage.
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
python3 - "$N" > pipe.txt <<'PY'
import sys
n = int(sys.argv[1])
files = {f: open(f, 'rb').read() for f in ['cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem', 'meta.json']}
out = sys.stdout.buffer
for i in range(1, n + 1):
    for f, v in files.items():
        k = f'certs/bench-ca/n{i}.example.test/{f}'.encode()
        out.write(b'*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(k), k, len(v), v))
PY
redis-cli -p "$port" --pipe < pipe.txt >/dev/null
cd - >/dev/null

run() {
  local start end
  start=$(date +%s%N)
  "$BIN" --state-dir "$work/state" "$@" --json list > "$work/out.json"
  end=$(date +%s%N)
  echo "$(( (end - start) / 1000000 )) ms ($(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$work/out.json") certificates)"
}
for round in 1 2 3; do
  echo "files, run $round: $(run)"
  echo "redis, run $round: $(run --storage "redis://127.0.0.1:$port")"
done
