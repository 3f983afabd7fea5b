#!/usr/bin/env python3
"""The engine in Node, Deno and workerd beside the native host, in one run against one Pebble.

1. Orders: one process per order, each creating a new account and getting a one-name P-256
   certificate over HTTP-01 on the port Pebble validates: `target/release/certsmith issue`
   (its engine component compiled once into its state dir's cache by a warm-up), Node (the
   `web` build and tests/node/acme-driver.cjs, HTTP-01 by http.createServer), Deno
   (tests/deno/acme.ts, HTTP-01 by Deno.serve) and workerd (tests/workerd/config.capnp's
   Worker, a fresh `workerd serve` and state dir per order, `POST /order`, HTTP-01 by its
   Http01 entrypoint). Interleaved: native, Node, Deno, workerd, native, ... for N rounds,
   after one warm-up each. Wall and CPU (user + system) of the whole process (wait4; workerd:
   /proc/<pid>/stat from spawn to the order's answer) and of the order alone (measured inside
   Node and Deno around the order; workerd: /proc before and after `POST /order`).
2. Cold start: spawning `workerd serve` to the first answered request (`GET /` on a socket
   the Worker serves; the modules are loaded and their top level, `initSync` included, has
   run), for the ACME Worker with the engine module (taken in each workerd round of 1) and
   for the responder Worker without it (edge/workers/responder.capnp, each round).
3. The responder Worker under wrk, beside `certsmith plugin serve` and the native handler:
   scripts/bench-edge.sh SECONDS is run for those, and the Worker is measured with the same
   wrk parameters (one token in its KV namespace, 16 connections, then 1).
Prints Markdown tables (medians; ratios to native) and the command that made them.

usage: scripts/bench-runtimes.py [--rounds N] [--wrk-seconds S]
Needs: Debian's pebble, openssl and wrk; (cd tests && npm ci) for deno and workerd;
target/wasm/web (cargo run -p wasm-build -- js --web); target/release/certsmith and
target/release/examples/http01_native (cargo build --release -p certsmith --example
http01_native). Everything listens on 127.0.0.1 only; every process started is killed by
its PID, and every wait is bounded.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CERTSMITH = os.path.join(ROOT, "target/release/certsmith")
DENO = os.path.join(ROOT, "tests/node_modules/.bin/deno")
WEB_BUILD = os.path.join(ROOT, "target/wasm/web")
ACME_CONFIG = os.path.join(ROOT, "tests/workerd/config.capnp")
RESPONDER_CONFIG = os.path.join(ROOT, "edge/workers/responder.capnp")
CLK_TCK = os.sysconf("SC_CLK_TCK")
TOKEN = "benchTOKEN_0123456789-abcdefghijklmnopqrstuvwx"  # bench-edge.sh's token and value
KEY_AUTHORIZATION = f"{TOKEN}.{'A' * 43}"

# The Node client: the web build (the module Deno and workerd run) driven by acme-driver.cjs,
# HTTP-01 answered by http.createServer; prints {ms, cpuMs, requests} of the order alone.
NODE_CLIENT = r"""
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
const [root, directory, name, httpPort] = process.argv.slice(2);
const { drive } = createRequire(`${root}/`)('./tests/node/acme-driver.cjs');
const engine = await import(`${root}/target/wasm/web/certsmith_core.js`);
engine.initSync({ module: fs.readFileSync(`${root}/target/wasm/web/certsmith_core_bg.wasm`) });
const answers = new Map();
const server = http.createServer((req, res) => {
  const answer = answers.get(req.url);
  res.writeHead(answer === undefined ? 404 : 200).end(answer);
});
await new Promise((resolve, reject) => server.once('error', reject).listen(Number(httpPort), '127.0.0.1', resolve));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const client = new engine.Client(directory, engine.generateKey('p256'));
const account = client.start({ kind: 'new-account', contact: ['mailto:bench@example.test'], termsOfServiceAgreed: true });
const order = client.start({ kind: 'order', identifiers: [name], challengeTypes: ['http-01'] });
const results = await drive(client, [account, order], {
  deploy: (c) => void answers.set(c.path, c.keyAuthorization),
  cleanup: (c) => void answers.delete(c.path),
  signal: AbortSignal.timeout(60_000),
});
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
server.close();
for (const op of [account, order]) if (results.get(op).error) throw new Error(JSON.stringify(results.get(op).error));
console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, requests: client.requestsSent }));
process.exit(0); // as the Deno client does
"""

# The Deno client: tests/deno/acme.ts's issue() (README's Deno code); prints the same.
DENO_CLIENT = r"""
import process from 'node:process';
import { issue } from '@ACME_TS@';
const [directoryUrl, name, httpPort, rootPem] = Deno.args;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const issued = await issue({ directoryUrl, names: [name], contact: ['mailto:bench@example.test'],
  httpPort: Number(httpPort), hostname: '127.0.0.1', caCerts: [rootPem] });
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, requests: issued.requestsSent }));
Deno.exit(0); // issue()'s AbortSignal.timeout would otherwise keep the process up to 60 s
"""


def free_port():
    """A free TCP port on 127.0.0.1 (bound to port 0, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds, what, proc=None, log=None):
    """Waits (bounded) until 127.0.0.1:port accepts connections; fails if proc exits first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            pass
        if (proc and proc.poll() is not None) or time.monotonic() > deadline:
            tail = open(log, errors="replace").read()[-3000:] if log else ""
            raise SystemExit(f"{what} did not listen on {port} within {seconds} s\n{tail}")
        time.sleep(0.02)


class Processes:
    """Processes started by this script, each killed by its PID (SIGKILL) in stop/stop_all."""

    def __init__(self, work):
        self.work = work
        self.procs = []

    def start(self, cmd, log, env=None):
        out = open(os.path.join(self.work, log), "ab")
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                env=dict(os.environ, **(env or {})), cwd=ROOT)
        out.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = [p for p in self.procs if p is not proc]

    def stop_all(self):
        for proc in list(self.procs):
            self.stop(proc)


def start_pebble(procs, work):
    """pebble + pebble-challtestsrv on free loopback ports, as tests/workerd/pebble.cjs starts
    them (every name resolves to 127.0.0.1; a throwaway TLS root). Nonce rejection is off
    (PEBBLE_WFE_NONCEREJECT=0) so that every client makes the same requests."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=work, check=True, capture_output=True, timeout=20)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=bench TLS root", "-keyout", "root.key",
            "-out", "root.pem")
    openssl("req", *ec, "-subj", "/CN=localhost", "-keyout", "localhost.key", "-out", "localhost.csr")
    with open(os.path.join(work, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "localhost.csr", "-CA", "root.pem", "-CAkey", "root.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "localhost.pem")
    listen, management, http01, tls, dns, dns_management = (free_port() for _ in range(6))
    with open(os.path.join(work, "pebble.json"), "w") as f:
        json.dump({"pebble": {
            "listenAddress": f"127.0.0.1:{listen}", "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": os.path.join(work, "localhost.pem"), "privateKey": os.path.join(work, "localhost.key"),
            "httpPort": http01, "tlsPort": tls, "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}, f)
    procs.start(["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-http01", "",
                 "-https01", "", "-tlsalpn01", "", "-dns01", f"127.0.0.1:{dns}", "-management",
                 f"127.0.0.1:{dns_management}"], "challtestsrv.log")
    pebble = procs.start(["pebble", "-config", os.path.join(work, "pebble.json"), "-dnsserver",
                          f"127.0.0.1:{dns}"], "pebble.log",
                         {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"})
    wait_port(listen, 10, "pebble", pebble, os.path.join(work, "pebble.log"))
    return f"https://localhost:{listen}/dir", os.path.join(work, "root.pem"), http01


def cpu_ms(pid):
    """CPU time (user + system, ms) the process pid has used, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / CLK_TCK


def run_process(cmd, env=None, timeout=120):
    """Runs cmd to its end (killed by PID after timeout); returns (wall ms, CPU ms, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=dict(os.environ, **(env or {})), cwd=ROOT)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = (time.perf_counter() - start) * 1000
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err.read().decode()[-3000:]}")
        return wall, (usage.ru_utime + usage.ru_stime) * 1000, out.read().decode()


def first_answer(port, started, seconds, proc, what):
    """Polls GET / on port (bounded) until any HTTP answer; returns ms since `started`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/")
            conn.getresponse().read()
            conn.close()
            return (time.perf_counter() - started) * 1000
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{what} answered no request within {seconds} s (exit {proc.poll()})")
        time.sleep(0.001)


def workerd_binary():
    """The workerd binary of tests/node_modules (npm `workerd`)."""
    out = subprocess.run(["node", "-p", "require('./tests/node_modules/workerd').default"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not os.path.exists(out.stdout.strip()):
        raise SystemExit(f"no workerd in tests/node_modules: (cd tests && npm ci)\n{out.stderr}")
    return out.stdout.strip()


def workerd_order(procs, workerd, work, directory, http01, name, n):
    """One order by the ACME Worker in a fresh workerd with a fresh state dir; returns
    (cold start ms, process wall ms, process CPU ms, order wall ms, order CPU ms, requests)."""
    state = tempfile.mkdtemp(dir=work, prefix="workerd-state-")
    control = free_port()
    started = time.perf_counter()
    proc = procs.start([workerd, "serve", ACME_CONFIG, "config", "-I", work,
                        "-s", f"control=127.0.0.1:{control}", "-s", f"http01=127.0.0.1:{http01}",
                        "-d", f"state={state}"], f"workerd-{n}.log")
    try:
        cold = first_answer(control, started, 30, proc, "workerd (ACME Worker)")
        wait_port(http01, 10, "workerd (http01 socket)", proc)
        cpu_before = cpu_ms(proc.pid)
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", control, timeout=90)
        conn.request("POST", "/order", json.dumps({"directory": directory, "names": [name],
                                                   "contact": ["mailto:bench@example.test"]}),
                     {"content-type": "application/json"})
        res = conn.getresponse()
        body = json.loads(res.read())
        conn.close()
        t1 = time.perf_counter()
        cpu_after = cpu_ms(proc.pid)
        if res.status != 200:
            raise SystemExit(f"the Worker's order failed ({res.status}): {body}")
        return (cold, (t1 - started) * 1000, cpu_after, (t1 - t0) * 1000, cpu_after - cpu_before,
                body["requestsSent"])
    finally:
        procs.stop(proc)
        shutil.rmtree(state, ignore_errors=True)


def responder_cold_start(procs, workerd, work, n):
    """Spawn to first answer of the responder Worker (no engine module)."""
    kv = tempfile.mkdtemp(dir=work, prefix="responder-kv-")
    port = free_port()
    started = time.perf_counter()
    proc = procs.start([workerd, "serve", "--experimental", RESPONDER_CONFIG, "config",
                        "-s", f"http=127.0.0.1:{port}", "-d", f"kv-disk={kv}"], f"responder-{n}.log",
                       {"ADMIN_SECRET": ""})
    try:
        return first_answer(port, started, 30, proc, "workerd (responder Worker)")
    finally:
        procs.stop(proc)
        shutil.rmtree(kv, ignore_errors=True)


def wrk(port, connections, seconds, pid):
    """bench-edge.sh's measurement: one wrk run; (requests/s, p99, mean latency, server CPU
    per request in µs)."""
    before = cpu_ms(pid)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          f"http://127.0.0.1:{port}/.well-known/acme-challenge/{TOKEN}"],
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    after = cpu_ms(pid)
    lines = [line.split() for line in out.splitlines()]
    rps = next(line[1] for line in lines if line[:1] == ["Requests/sec:"])
    p99 = next(line[1] for line in lines if line[:1] == ["99%"])
    mean = next(line[1] for line in lines if line[:1] == ["Latency"])
    requests = int(next(line[0] for line in lines if "requests" in line and "in" in line))
    if "Non-2xx" in out:
        raise SystemExit(f"the Worker answered errors under wrk:\n{out}")
    return rps, p99, mean, (after - before) * 1000 / requests


def responder_under_wrk(procs, workerd, work, seconds):
    """The responder Worker with the bench token in its KV namespace, under wrk."""
    kv = tempfile.mkdtemp(dir=work, prefix="responder-wrk-kv-")
    port = free_port()
    secret = os.urandom(16).hex()
    proc = procs.start([workerd, "serve", "--experimental", RESPONDER_CONFIG, "config",
                        "-s", f"http=127.0.0.1:{port}", "-d", f"kv-disk={kv}"], "responder-wrk.log",
                       {"ADMIN_SECRET": secret})
    try:
        wait_port(port, 30, "workerd (responder Worker)", proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("PUT", f"/.well-known/certsmith/http01/{TOKEN}", KEY_AUTHORIZATION,
                     {"authorization": f"Bearer {secret}"})
        res = conn.getresponse()
        assert (res.status, res.read()) == (204, b""), res.status
        conn.request("GET", f"/.well-known/acme-challenge/{TOKEN}")
        res = conn.getresponse()
        assert (res.status, res.read().decode()) == (200, KEY_AUTHORIZATION)
        conn.close()
        subprocess.run(["wrk", "-t1", "-c16", "-d2s", f"http://127.0.0.1:{port}/.well-known/acme-challenge/{TOKEN}"],
                       capture_output=True,
                       check=True, timeout=60)  # warm-up, as bench-edge.sh does
        rps, p99, _, cpu = wrk(port, 16, seconds, proc.pid)
        _, _, mean, _ = wrk(port, 1, seconds, proc.pid)
        return f"| responder Worker under workerd (edge/workers/responder.js, KV) | {rps} | {p99} | {cpu:.0f} µs | {mean} |"
    finally:
        procs.stop(proc)
        shutil.rmtree(kv, ignore_errors=True)


def median(xs):
    return statistics.median(xs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    args = parser.parse_args()
    for f in (CERTSMITH, DENO, os.path.join(WEB_BUILD, "certsmith_core_bg.wasm")):
        if not os.path.exists(f):
            raise SystemExit(f"missing {f} (see this script's header)")
    for command in ("pebble", "pebble-challtestsrv", "openssl", "wrk", "node"):
        if shutil.which(command) is None:
            raise SystemExit(f"{command} is not installed")
    workerd = workerd_binary()
    versions = {
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
        "deno": subprocess.run([DENO, "--version"], capture_output=True, text=True).stdout.split()[1],
        "workerd": json.load(open(os.path.join(ROOT, "tests/node_modules/workerd/package.json")))["version"],
    }
    print(f"command: scripts/bench-runtimes.py --rounds {args.rounds} --wrk-seconds {args.wrk_seconds}")
    print(f"versions: {versions}; machine: {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f} at the start\n", flush=True)

    work = tempfile.mkdtemp(prefix="certsmith-bench-runtimes-")
    procs = Processes(work)
    try:
        directory, root, http01 = start_pebble(procs, work)
        shutil.copy(root, os.path.join(work, "pebble-tls-root.pem"))  # config.capnp embeds it (-I work)
        with open(root) as f:
            root_pem = f.read()
        node_client = os.path.join(work, "node-client.mjs")
        with open(node_client, "w") as f:
            f.write(NODE_CLIENT)
        deno_client = os.path.join(work, "deno-client.ts")
        with open(deno_client, "w") as f:
            f.write(DENO_CLIENT.replace("@ACME_TS@", f"file://{ROOT}/tests/deno/acme.ts"))
        native_state = os.path.join(work, "native-state")

        def native(name, n):
            wall, cpu, out = run_process(
                [CERTSMITH, "--state-dir", native_state, "--json", "issue", "--server", directory,
                 "--ca-cert", root, "--accept-tos", "--email", f"bench{n}@example.test",
                 "--http", f"127.0.0.1:{http01}", "-d", name])
            return {"wall": wall, "cpu": cpu, "requests": json.loads(out)["acmeRequests"]}

        def node(name, n):
            wall, cpu, out = run_process(["node", node_client, ROOT, directory, name, str(http01)],
                                         {"NODE_EXTRA_CA_CERTS": root})
            r = json.loads(out)
            return {"wall": wall, "cpu": cpu, "order_wall": r["ms"], "order_cpu": r["cpuMs"],
                    "requests": r["requests"]}

        def deno(name, n):
            wall, cpu, out = run_process(
                [DENO, "run", "--no-prompt", f"--allow-read={WEB_BUILD}", "--allow-net=127.0.0.1,localhost",
                 deno_client, directory, name, str(http01), root_pem])
            r = json.loads(out.strip().splitlines()[-1])
            return {"wall": wall, "cpu": cpu, "order_wall": r["ms"], "order_cpu": r["cpuMs"],
                    "requests": r["requests"]}

        def worker(name, n):
            cold, wall, cpu, order_wall, order_cpu, requests = workerd_order(
                procs, workerd, work, directory, http01, name, n)
            return {"wall": wall, "cpu": cpu, "order_wall": order_wall, "order_cpu": order_cpu,
                    "requests": requests, "cold": cold}

        clients = [("native host (`target/release/certsmith issue`, engine component in wasmtime)", native),
                   (f"Node {versions['node']} (web build, acme-driver.cjs)", node),
                   (f"Deno {versions['deno']} (tests/deno/acme.ts)", deno),
                   (f"workerd {versions['workerd']} (tests/workerd/worker.js, `POST /order`)", worker)]
        samples = {label: [] for label, _ in clients}
        responder_cold = []
        for n, (label, run) in enumerate(clients):  # warm-ups: engine cache, Deno's module cache
            run(f"warmup{n}.bench.test", f"w{n}")
        for i in range(args.rounds):
            for n, (label, run) in enumerate(clients):
                samples[label].append(run(f"r{i}c{n}.bench.test", f"r{i}c{n}"))
            responder_cold.append(responder_cold_start(procs, workerd, work, i))
            print(f"round {i + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        procs.stop_all()  # Pebble: the wrk part needs no CA

        base = samples[clients[0][0]]
        base_wall, base_cpu = median(s["wall"] for s in base), median(s["cpu"] for s in base)
        print("### Orders (new account + one-name HTTP-01 order, one process per order)\n")
        print("| runtime | orders | wall, process (median) | CPU, process (median) | CPU, process (min–max) "
              "| wall, order alone (median) | CPU, order alone (median) | wall / native | CPU / native "
              "| ACME requests |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, _ in clients:
            s = samples[label]
            wall, cpu = median(x["wall"] for x in s), median(x["cpu"] for x in s)
            cpus = [x["cpu"] for x in s]
            if "order_wall" in s[0]:
                alone = (f"{median(x['order_wall'] for x in s):.0f} ms",
                         f"{median(x['order_cpu'] for x in s):.0f} ms")
            else:
                alone = ("= process", "= process")
            requests = "/".join(sorted({str(x["requests"]) for x in s}))
            print(f"| {label} | {len(s)} | {wall:.0f} ms | {cpu:.0f} ms | {min(cpus):.0f}–{max(cpus):.0f} ms "
                  f"| {alone[0]} | {alone[1]} | {wall / base_wall:.2f} | {cpu / base_cpu:.2f} | {requests} |")
        worker_samples = samples[clients[3][0]]
        print("\n### Cold start of workerd (spawn to the first answered request)\n")
        print("| Worker | starts | median | min–max |")
        print("| --- | --- | --- | --- |")
        for label, xs in (("ACME Worker with the engine module (772 KB web build, tests/workerd/config.capnp)",
                           [x["cold"] for x in worker_samples]),
                          ("responder Worker, no engine (edge/workers/responder.capnp)", responder_cold)):
            print(f"| {label} | {len(xs)} | {median(xs):.0f} ms | {min(xs):.0f}–{max(xs):.0f} ms |")

        print(f"\n### HTTP-01 answers under wrk ({args.wrk_seconds} s per run)\n", flush=True)
        edge = subprocess.run([os.path.join(ROOT, "scripts/bench-edge.sh"), str(args.wrk_seconds)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        if edge.returncode != 0:
            raise SystemExit(f"scripts/bench-edge.sh failed: {edge.stderr}")
        lines = edge.stdout.splitlines()
        table = [line for line in lines if line.startswith("|")]
        table.append(responder_under_wrk(procs, workerd, work, args.wrk_seconds))
        # A column more: requests/s (16 connections) as a ratio to the native handler's.
        rps = lambda row: float(row.split("|")[2])
        native_rps = next(rps(row) for row in table if "http01_native" in row)
        print(f"{table[0]} requests/s / native |")
        print(f"{table[1]} --- |")
        for row in table[2:]:
            print(f"{row} {rps(row) / native_rps:.2f} |")
        print("\n" + "\n".join(line for line in lines if line and not line.startswith("|")))
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
