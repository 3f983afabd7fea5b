#!/usr/bin/env python3
"""Times `certsmith issue` against a local Pebble: one issuance per process, the account
created beforehand and reused, median of N runs; wall time, CPU time (user + system) and
peak RSS of each process (from wait4). Prints a Markdown table.

usage: scripts/bench-issue.py [--runs N] [--binary PATH]...
Needs Debian's pebble and openssl; starts and stops its own Pebble on loopback ports.
"""
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


def run_once(cmd):
    """Runs cmd; returns (wall seconds, cpu seconds, peak RSS MiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[0]} failed: {proc.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary", action="append", default=[])
    args = parser.parse_args()
    binaries = args.binary or [os.path.join(ROOT, "target/release/certsmith")]
    with tempfile.TemporaryDirectory() as work:
        directory, root, pebble_dir, pids = start_pebble(work)
        try:
            print("| binary | runs | wall (median) | CPU (median) | peak RSS (median) |")
            print("| --- | --- | --- | --- | --- |")
            for n, binary in enumerate(binaries):
                state = os.path.join(work, f"state{n}")
                base = [binary, "--state-dir", state, "--json", "issue", "--server", directory,
                        "--ca-cert", root, "--accept-tos", "--http", "127.0.0.1:5002"]
                run_once(base + ["-d", "warmup.bench.test"])  # account + compile cache
                samples = [run_once(base + ["-d", f"run{i}.bench.test"]) for i in range(args.runs)]
                wall, cpu, rss = (statistics.median(s[k] for s in samples) for k in range(3))
                print(f"| `{os.path.relpath(binary, ROOT)}` | {args.runs} | {wall*1000:.0f} ms "
                      f"| {cpu*1000:.0f} ms | {rss:.1f} MiB |")
        finally:
            for pid in pids:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
            subprocess.run(["rm", "-rf", pebble_dir])


if __name__ == "__main__":
    main()
