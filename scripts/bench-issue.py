#!/usr/bin/env python3
"""Times one certificate issuance per process against a local Pebble, the account created
beforehand and reused, median of N runs: wall time, CPU time (user + system) and peak RSS
of each process (from wait4), and certsmith's ACME request count. The runs of the clients
are interleaved (A B C A B C ...) after one warm-up each. `--lego` and `--certbot`
time Debian's lego and certbot the same way in the same run (HTTP-01 standalone on the same
port). Prints a Markdown table.

usage: scripts/bench-issue.py [--runs N] [--binary PATH]... [--lego] [--certbot]
Needs Debian's pebble and openssl; starts and stops its own Pebble on loopback ports.
"""
import json
import argparse
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_pebble(work):
    """Pebble + challtestsrv like scripts/pebble-env.sh; returns (processes, env)."""
    env = dict(os.environ)
    script = f"""
set -e
. {ROOT}/scripts/pebble-env.sh
start_pebble
echo "$PEBBLE_DIRECTORY $PEBBLE_TLS_ROOT $PEBBLE_DIR ${{PEBBLE_PIDS[*]}}"
"""
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True, env=env)
    directory, root, pebble_dir, *pids = out.stdout.split()
    return directory, root, pebble_dir, [int(p) for p in pids]


def run_once(cmd, env=None):
    """Runs cmd; returns (wall seconds, cpu seconds, peak RSS MiB, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd[0]} failed: {err.read().decode()[-2000:]}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def certsmith(binary, state, directory, root):
    """The command line of one `certsmith issue` for a name."""
    base = [binary, "--state-dir", state, "--json", "issue", "--server", directory,
            "--ca-cert", root, "--accept-tos", "--http", "127.0.0.1:5002"]
    return lambda name: base + ["-d", name], None


def lego(state, directory, root):
    """The command line of one `lego run` for a name (its account is kept under --path)."""
    env = dict(os.environ, LEGO_CA_CERTIFICATES=root)
    base = ["lego", "--server", directory, "--email", "bench@example.test", "--accept-tos",
            "--path", state, "--http", "--http.port", "127.0.0.1:5002"]
    return lambda name: base + ["-d", name, "run"], env


def certbot(state, directory, root):
    """The command line of one `certbot certonly --standalone` for a name."""
    env = dict(os.environ, REQUESTS_CA_BUNDLE=root)
    base = ["certbot", "certonly", "--standalone", "--non-interactive", "--agree-tos",
            "-m", "bench@example.test", "--server", directory,
            "--http-01-address", "127.0.0.1", "--http-01-port", "5002",
            "--config-dir", f"{state}/config", "--work-dir", f"{state}/work",
            "--logs-dir", f"{state}/logs"]
    return lambda name: base + ["-d", name], env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary", action="append", default=[])
    parser.add_argument("--lego", action="store_true", help="also time Debian's lego")
    parser.add_argument("--certbot", action="store_true", help="also time Debian's certbot")
    args = parser.parse_args()
    binaries = args.binary or [os.path.join(ROOT, "target/release/certsmith")]
    clients = [(f"`{os.path.relpath(b, ROOT)}`",
                lambda state, d, r, b=b: certsmith(b, state, d, r)) for b in binaries]
    if args.lego:
        clients.append(("lego (Debian)", lego))
    if args.certbot:
        clients.append(("certbot (Debian)", certbot))
    with tempfile.TemporaryDirectory() as work:
        directory, root, pebble_dir, pids = start_pebble(work)
        try:
            print("| client | runs | wall (median) | CPU (median) | CPU (min–max) "
                  "| peak RSS (median) | ACME requests (median) |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            # Warm-ups first (accounts, compiled-engine caches), then the runs interleaved
            # client by client, so that a slow phase of the machine hits all clients alike.
            prepared = []
            for n, (label, make) in enumerate(clients):
                state = os.path.join(work, f"state{n}")
                command, env = make(state, directory, root)
                run_once(command(f"warmup{n}.bench.test"), env)  # account (+ compile cache)
                prepared.append((n, label, command, env, []))
            for i in range(args.runs):
                for n, _, command, env, samples in prepared:
                    samples.append(run_once(command(f"run{i}.client{n}.bench.test"), env))
            for _, label, _, _, samples in prepared:
                wall, cpu, rss = (statistics.median(s[k] for s in samples) for k in range(3))
                requests = [json.loads(s[3]).get("acmeRequests") for s in samples
                            if s[3].startswith(b"{")]
                shown = f"{statistics.median(requests):.0f}" if requests else "not reported"
                cpus = [s[1] * 1000 for s in samples]
                print(f"| {label} | {args.runs} | {wall*1000:.0f} ms "
                      f"| {cpu*1000:.0f} ms | {min(cpus):.0f}–{max(cpus):.0f} ms "
                      f"| {rss:.1f} MiB | {shown} |", flush=True)
        finally:
            for pid in pids:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
            subprocess.run(["rm", "-rf", pebble_dir])


if __name__ == "__main__":
    main()
