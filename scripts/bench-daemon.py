#!/usr/bin/env python3
"""`certsmith run` beside Caddy (Debian's `caddy` 2.6, which embeds certmagic) against one
local Pebble, the runs interleaved (certsmith, Caddy, certsmith, Caddy, ...):

- start to N certificates obtained and served: from the daemon's start until a TLS
  handshake for every name verifies against Pebble's issuing root (the ACME account is
  registered beforehand for both, as scripts/bench-issue.py does); the daemon's CPU time
  (user + system, /proc/PID/stat) and peak RSS (VmHWM), then its RSS after 5 s idle;
- full TLS handshakes per second on one name (no resumption), from two client processes
  for 10 s, and the server's CPU per handshake;
- a renewal forced through the admin API while two clients make full handshakes: the time
  until the new serial is served and the handshakes that failed (certsmith only: Caddy has
  no such API; ../shared/notes/caddy.md has its figure from a short-lived profile);
- with `--native PATH` (a build with `--features native`): the daemon's CPU per certificate
  at N = 100 with the engine as a WebAssembly component against the engine linked natively;
- a restart with K stored certificates (synthetic lineages in each daemon's own layout,
  valid for 60 days, so nothing is ordered): until every name is served (certsmith: its
  /status; Caddy: a handshake for the last name of its config, which it loads in order),
  with the RSS once all are served.

Prints Markdown tables with medians, ranges and the certsmith/Caddy ratio.

usage: scripts/bench-daemon.py [--binary PATH] [--n 10,100] [--runs 3] [--restart 10000]
       [--restart-caddy 1000] [--handshake-secs 10]
Needs Debian's pebble, caddy and openssl, python3-cryptography; everything runs on
127.0.0.1 (Pebble's ports 14000, 15000, 5001, 5002, 8053, 8055) and is stopped by PID.
"""
import argparse
import datetime
import json
import multiprocessing
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HTTPS, HTTP, ADMIN = 5001, 5002, 9391
CA_SLUG = "localhost-14000-dir"
TICK = os.sysconf("SC_CLK_TCK")


def start_pebble():
    """Pebble + challtestsrv (scripts/pebble-env.sh); returns (directory, tls root, pids)."""
    script = f"""
set -e
. {ROOT}/scripts/pebble-env.sh
start_pebble
echo "$PEBBLE_DIRECTORY $PEBBLE_TLS_ROOT ${{PEBBLE_PIDS[*]}}"
"""
    out = subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True)
    directory, root, *pids = out.stdout.split()
    return directory, root, [int(p) for p in pids]


def issuing_root(tls_root, work):
    """Pebble's issuing root (management API), as a file."""
    context = ssl.create_default_context(cafile=tls_root)
    pem = urllib.request.urlopen("https://localhost:15000/roots/0", context=context).read()
    path = os.path.join(work, "issuing-root.pem")
    with open(path, "wb") as f:
        f.write(pem)
    return path


def handshake(context, name, timeout=5.0):
    """One full TLS handshake with SNI `name` on the HTTPS port; whether it verified."""
    try:
        with socket.create_connection(("127.0.0.1", HTTPS), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=name):
                return True
    except (OSError, ssl.SSLError):
        return False


def verifying_context(root):
    """A client context trusting only `root`."""
    context = ssl.create_default_context(cafile=root)
    context.check_hostname = True
    return context


def cpu_seconds(pid):
    """User + system CPU of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid, field):
    """VmRSS or VmHWM of a process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def stop(proc):
    """Stops a daemon by PID and waits."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Certsmith:
    """`certsmith run` with N http-01 certificates."""

    label = "certsmith"

    def __init__(self, binary, directory, tls_root, work, label="certsmith"):
        self.binary, self.directory, self.tls_root, self.work = binary, directory, tls_root, work
        self.label = label
        self.account = os.path.join(work, f"{label}-account")

    def config(self, state, names):
        lines = [
            f'state_dir = "{state}"',
            "[acme]",
            f'server = "{self.directory}"',
            f'ca_cert = "{self.tls_root}"',
            'email = "bench@example.test"',
            "accept_tos = true",
            "[https]",
            f'listen = "127.0.0.1:{HTTPS}"',
            f'http_listen = "127.0.0.1:{HTTP}"',
            'static_body = "ok"',
            "[admin]",
            f'listen = "127.0.0.1:{ADMIN}"',
            "[renewal]",
            "concurrency = 16",
        ]
        for name in names:
            lines += ["[[certificate]]", f'names = ["{name}"]']
        path = os.path.join(self.work, "certsmith.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, state, names):
        log = open(os.path.join(self.work, "certsmith.log"), "w")
        return subprocess.Popen(
            [self.binary, "run", "--config", self.config(state, names)],
            stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ, RUST_LOG="warn"))

    def fresh_state(self, run):
        """A state dir holding only the registered account."""
        state = os.path.join(self.work, f"{self.label}-state-{run}")
        shutil.copytree(self.account, state, symlinks=True)
        return state

    def register(self):
        """Registers the account once (a first daemon run with one name)."""
        state = os.path.join(self.work, "certsmith-register")
        proc = self.start(state, ["register.example.test"])
        wait_served(verifying_context(self.root), ["register.example.test"], proc, 120)
        stop(proc)
        os.makedirs(self.account)
        # The account, and the engine's compiled code as a restarted daemon has it.
        for kept in ("accounts", "cache"):
            shutil.copytree(os.path.join(state, kept), os.path.join(self.account, kept))

    def served_count(self):
        """How many certificates /status shows served."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN}/status", timeout=5) as r:
                status = json.load(r)
        except OSError:
            return 0
        return sum(1 for c in status["certificates"].values() if c.get("serial"))

    def synthesize(self, state, names, leaves):
        """Stores `leaves` (name -> (cert pem, key pem)) as certsmith lineages."""
        certs = os.path.join(state, "certs", CA_SLUG)
        for name in names:
            cert, key, chain = leaves[name]
            generation = os.path.join(certs, ".generations", name, "1")
            os.makedirs(generation)
            for file, data in (("cert.pem", cert), ("chain.pem", chain),
                               ("fullchain.pem", cert + chain), ("key.pem", key),
                               ("meta.json", b"{}")):
                with open(os.path.join(generation, file), "wb") as f:
                    f.write(data)
            os.chmod(os.path.join(generation, "key.pem"), 0o600)
            os.symlink(f".generations/{name}/1", os.path.join(certs, name))


class Caddy:
    """Caddy 2.6 with one site per name (`respond "ok"`), as ../shared/notes/caddy.md says."""

    label = "Caddy"

    def __init__(self, directory, tls_root, work):
        self.directory, self.tls_root, self.work = directory, tls_root, work
        self.account = os.path.join(work, "caddy-account")

    def start(self, state, names):
        config = [
            "{",
            "  admin off",
            "  default_bind 127.0.0.1",
            f"  http_port {HTTP}",
            f"  https_port {HTTPS}",
            "  skip_install_trust",
            "  email bench@example.test",
            f"  acme_ca {self.directory}",
            f"  acme_ca_root {self.tls_root}",
            f"  storage file_system {state}",
            "}",
        ]
        for name in names:
            config += [f"{name} {{", '  respond "ok"', "}"]
        path = os.path.join(self.work, "Caddyfile")
        with open(path, "w") as f:
            f.write("\n".join(config) + "\n")
        home = os.path.join(self.work, "caddy-home")
        env = dict(os.environ, XDG_DATA_HOME=home, XDG_CONFIG_HOME=home, HOME=home)
        log = open(os.path.join(self.work, "caddy.log"), "w")
        return subprocess.Popen(["caddy", "run", "--config", path, "--adapter", "caddyfile"],
                                stdout=log, stderr=log, env=env)

    def fresh_state(self, run):
        state = os.path.join(self.work, f"caddy-state-{run}")
        shutil.copytree(self.account, state)
        return state

    def register(self):
        state = os.path.join(self.work, "caddy-register")
        proc = self.start(state, ["register.example.test"])
        wait_served(verifying_context(self.root), ["register.example.test"], proc, 120)
        stop(proc)
        shutil.copytree(state, self.account)
        shutil.rmtree(os.path.join(self.account, "certificates"), ignore_errors=True)

    def synthesize(self, state, names, leaves):
        """Stores `leaves` in Caddy's layout (certificates/<ca>/<name>/<name>.crt|.key|.json)."""
        for name in names:
            cert, key, chain = leaves[name]
            folder = os.path.join(state, "certificates", CA_SLUG, name)
            os.makedirs(folder)
            with open(os.path.join(folder, f"{name}.crt"), "wb") as f:
                f.write(cert + chain)
            with open(os.path.join(folder, f"{name}.key"), "wb") as f:
                f.write(key)
            with open(os.path.join(folder, f"{name}.json"), "w") as f:
                json.dump({"sans": [name], "issuer_data": {"url": "", "ca": self.directory}}, f)


def wait_served(context, names, proc, limit):
    """Seconds until a handshake for every name verifies (polled), or an error."""
    started = time.perf_counter()
    pending = list(names)
    while pending:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {proc.returncode}")
        if time.perf_counter() - started > limit:
            raise SystemExit(f"{len(pending)} names not served after {limit} s")
        pending = [n for n in pending if not handshake(context, n)]
        if pending:
            time.sleep(0.05)
    return time.perf_counter() - started


def issuance_run(daemon, n, run):
    """One start-to-N-served run: (seconds, CPU s, peak MiB, steady MiB)."""
    names = [f"n{i}.r{run}.example.test" for i in range(n)]
    state = daemon.fresh_state(f"{n}-{run}")
    started = time.perf_counter()
    proc = daemon.start(state, names)
    try:
        wait_served(verifying_context(daemon.root), names, proc, 3600)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(proc.pid)
        peak = rss_mib(proc.pid, "VmHWM")
        time.sleep(5)
        steady = rss_mib(proc.pid, "VmRSS")
    finally:
        stop(proc)
    return elapsed, cpu, peak, steady


def handshaker(root, name, seconds, counter):
    """Full handshakes (a fresh context each time: no resumption) until time is up."""
    context = verifying_context(root)
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        if handshake(context, name):
            count += 1
    with counter.get_lock():
        counter.value += count


def handshake_run(daemon, seconds):
    """Full handshakes per second on one name and the server's CPU per handshake (µs)."""
    name = "hs.example.test"
    state = daemon.fresh_state(f"hs-{time.time_ns()}")
    proc = daemon.start(state, [name])
    try:
        wait_served(verifying_context(daemon.root), [name], proc, 120)
        counter = multiprocessing.Value("l", 0)
        before = cpu_seconds(proc.pid)
        workers = [multiprocessing.Process(target=handshaker,
                                           args=(daemon.root, name, seconds, counter))
                   for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        cpu = cpu_seconds(proc.pid) - before
    finally:
        stop(proc)
    return counter.value / seconds, cpu / max(counter.value, 1) * 1e6


def serial_of(context, name):
    """The serial number of the leaf served for `name`, or None."""
    from cryptography import x509
    try:
        with socket.create_connection(("127.0.0.1", HTTPS), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number
    except (OSError, ssl.SSLError):
        return None


def failing_handshakes(root, name, seconds, failures):
    """Full handshakes for `seconds`, counting those that fail."""
    context = verifying_context(root)
    deadline = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < deadline:
        if not handshake(context, name):
            count += 1
    with failures.get_lock():
        failures.value += count


def swap_run(daemon):
    """A renewal forced (POST /renew) under two clients' continuous full handshakes: ms from
    the request until the new serial is served, and the handshakes that failed."""
    name = "swap.example.test"
    state = daemon.fresh_state(f"swap-{time.time_ns()}")
    proc = daemon.start(state, [name])
    context = verifying_context(daemon.root)
    try:
        wait_served(context, [name], proc, 120)
        old = serial_of(context, name)
        failures = multiprocessing.Value("l", 0)
        workers = [multiprocessing.Process(target=failing_handshakes,
                                           args=(daemon.root, name, 4, failures))
                   for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(1)
        asked = time.perf_counter()
        request = urllib.request.Request(f"http://127.0.0.1:{ADMIN}/renew/{name}", method="POST")
        urllib.request.urlopen(request, timeout=10).read()
        while serial_of(context, name) == old:
            if time.perf_counter() - asked > 30:
                raise SystemExit("the renewed certificate was not served within 30 s")
        swapped = (time.perf_counter() - asked) * 1000
        for w in workers:
            w.join()
    finally:
        stop(proc)
    return swapped, failures.value


def synthetic_leaves(names):
    """name -> (leaf PEM, key PEM, chain PEM): one test CA, one key, a leaf per name."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench synthetic CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=60))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    chain = ca.public_bytes(serialization.Encoding.PEM)
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    leaves = {}
    for name in names:
        leaf = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=59))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        leaves[name] = (leaf.public_bytes(serialization.Encoding.PEM), key_pem, chain)
    return leaves, chain


def restart_run(daemon, count, leaves, chain_root):
    """A start with `count` stored certificates: (seconds until all served, MiB then)."""
    names = [f"s{i}.example.test" for i in range(count)]
    state = daemon.fresh_state(f"restart-{count}-{time.time_ns()}")
    daemon.synthesize(state, names, leaves)
    started = time.perf_counter()
    proc = daemon.start(state, names)
    try:
        if isinstance(daemon, Certsmith):
            while daemon.served_count() < count:
                if proc.poll() is not None or time.perf_counter() - started > 600:
                    raise SystemExit("certsmith did not serve the stored certificates")
                time.sleep(0.02)
        else:
            wait_served(verifying_context(chain_root), [names[-1]], proc, 600)
        elapsed = time.perf_counter() - started
        rss = rss_mib(proc.pid, "VmRSS")
        time.sleep(5)
        settled = rss_mib(proc.pid, "VmRSS")
    finally:
        stop(proc)
    return elapsed, rss, settled


def summary(values, unit, digits=2):
    """median (min–max)."""
    med = statistics.median(values)
    return f"{med:.{digits}f} {unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/certsmith"))
    parser.add_argument("--n", default="10,100")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--restart", type=int, default=10000)
    parser.add_argument("--restart-caddy", type=int, default=1000)
    parser.add_argument("--handshake-secs", type=int, default=10)
    parser.add_argument("--native", help="a certsmith built with --features native")
    parser.add_argument("--only", default="issuance,handshakes,swap,native,restart",
                        help="the parts to run, comma-separated")
    parser.add_argument("--without-caddy", action="store_true",
                        help="certsmith alone (N = 1000 takes Caddy's limiter ≥ 990 s)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    work = tempfile.mkdtemp(prefix="certsmith-bench-daemon-")
    directory, tls_root, pebble_pids = start_pebble()
    try:
        root = issuing_root(tls_root, work)
        daemons = [Certsmith(args.binary, directory, tls_root, work)]
        if not args.without_caddy:
            daemons.append(Caddy(directory, tls_root, work))
        for daemon in daemons:
            daemon.root = root
            daemon.register()
        print(f"# certsmith run vs Caddy {subprocess.run(['caddy', 'version'], capture_output=True, text=True).stdout.split()[0]}, "
              f"{os.cpu_count()} cores, `{' '.join(['scripts/bench-daemon.py'] + os.sys.argv[1:])}`\n")
        if "issuance" in parts:
            print("| N | daemon | start → all served | CPU | peak RSS | RSS 5 s later |")
            print("| --- | --- | --- | --- | --- | --- |")
        for n in [int(x) for x in args.n.split(",") if "issuance" in parts]:
            results = {d.label: [] for d in daemons}
            runs = args.runs if n <= 100 else 1
            for run in range(runs):
                for daemon in daemons:
                    results[daemon.label].append(issuance_run(daemon, n, run))
            for daemon in daemons:
                r = results[daemon.label]
                print(f"| {n} | {daemon.label} | {summary([x[0] for x in r], 's')} | "
                      f"{summary([x[1] * 1000 / n for x in r], 'ms/cert', 1)} | "
                      f"{summary([x[2] for x in r], 'MiB', 1)} | {summary([x[3] for x in r], 'MiB', 1)} |")
            if "Caddy" in results:
                ours = statistics.median(x[0] for x in results["certsmith"])
                theirs = statistics.median(x[0] for x in results["Caddy"])
                print(f"| {n} | ratio | {ours / theirs:.2f}× | | | |")
        if "handshakes" in parts:
            print("\n| daemon | full handshakes/s (2 Python clients) | server CPU per handshake |")
            print("| --- | --- | --- |")
            rates = {d.label: [] for d in daemons}
            for _ in range(2):
                for daemon in daemons:
                    rates[daemon.label].append(handshake_run(daemon, args.handshake_secs))
            for daemon in daemons:
                r = rates[daemon.label]
                print(f"| {daemon.label} | {summary([x[0] for x in r], '/s', 0)} | {summary([x[1] for x in r], 'µs', 0)} |")
        if "swap" in parts:
            swaps = [swap_run(daemons[0]) for _ in range(3)]
            print("\n| forced renewal under continuous full handshakes (certsmith) | |")
            print("| --- | --- |")
            print(f"| POST /renew → new serial served (the order included) | {summary([x[0] for x in swaps], 'ms', 0)} |")
            print(f"| failed handshakes | {sum(x[1] for x in swaps)} in {len(swaps)} runs |")
        if args.native and "native" in parts:
            native = Certsmith(args.native, directory, tls_root, work, "native")
            native.root = root
            native.register()
            engines = [daemons[0], native]
            cpu = {d.label: [] for d in engines}
            for run in range(args.runs):
                for daemon in engines:
                    cpu[daemon.label].append(issuance_run(daemon, 100, f"e{run}")[1] * 10)
            print("\n| engine | daemon CPU per certificate, N = 100 |")
            print("| --- | --- |")
            for daemon in engines:
                print(f"| {daemon.label} | {summary(cpu[daemon.label], 'ms', 1)} |")
            ratio = statistics.median(cpu["certsmith"]) / statistics.median(cpu["native"])
            print(f"| component / native | {ratio:.2f}× |")
        if "restart" not in parts:
            return
        leaves, chain = synthetic_leaves([f"s{i}.example.test" for i in range(max(args.restart, args.restart_caddy))])
        chain_root = os.path.join(work, "synthetic-ca.pem")
        with open(chain_root, "wb") as f:
            f.write(chain)
        print("\n| stored certificates | daemon | start → all served | RSS then | RSS 5 s later |")
        print("| --- | --- | --- | --- | --- |")
        for count, daemon in [(args.restart_caddy, daemons[0]), (args.restart_caddy, daemons[1]),
                              (args.restart, daemons[0])]:
            if count <= 0:
                continue
            r = [restart_run(daemon, count, leaves, chain_root) for _ in range(2)]
            print(f"| {count} | {daemon.label} | {summary([x[0] for x in r], 's')} | "
                  f"{summary([x[1] for x in r], 'MiB', 1)} | {summary([x[2] for x in r], 'MiB', 1)} |")
    finally:
        for pid in pebble_pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
