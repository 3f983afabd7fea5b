# workerd config for tests/workerd/order.e2e.test.cjs: the ACME Worker (worker.js) with the
# engine's `web` build, talking only to 127.0.0.1 and trusting only the test CA's TLS root.
# Run from this directory's parent's parent (the repository root) as the test does:
#
#   workerd serve tests/workerd/config.capnp config -I <dir holding pebble-tls-root.pem> \
#     -s control=127.0.0.1:<port> -s http01=127.0.0.1:<Pebble's httpPort> -d state=<dir>
#
# `-I` makes `embed "/pebble-tls-root.pem"` read the root made for this run; `-s` and `-d`
# override the socket addresses and the state directory below. README's Workers section quotes
# the part between the README markers verbatim (tests/deno/readme.test.ts checks it).

# README begin
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "acme", worker = .acmeWorker),
    # The Worker's global fetch(): loopback 127.0.0.1 only (no other address, no DNS name
    # resolving elsewhere), TLS checked against the test CA's root alone.
    (name = "loopback", network = (
      allow = ["127.0.0.1/32"],
      tlsOptions = (trustBrowserCas = false, trustedCertificates = [embed "/pebble-tls-root.pem"]),
    )),
    # Where the Durable Object keeps its SQLite file (the account, orders, HTTP-01 tokens).
    (name = "state", disk = (path = "/nonexistent", writable = true)),
  ],
  sockets = [
    # Starting orders and reading state: the Worker's default entrypoint.
    (name = "control", address = "127.0.0.1:0", http = (), service = "acme"),
    # The port the CA validates HTTP-01 on: only the `Http01` entrypoint (challenges).
    (name = "http01", address = "127.0.0.1:0", http = (),
     service = (name = "acme", entrypoint = "Http01")),
  ],
);

const acmeWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "certsmith_core.js", esModule = embed "../../target/wasm/web/certsmith_core.js"),
    (name = "certsmith_core_bg.wasm", wasm = embed "../../target/wasm/web/certsmith_core_bg.wasm"),
    (name = "acme-driver.cjs", commonJsModule = embed "../node/acme-driver.cjs"),
  ],
  compatibilityDate = "2026-11-01",
  bindings = [(name = "ACCOUNTS", durableObjectNamespace = "AcmeAccount")],
  durableObjectNamespaces = [(className = "AcmeAccount", uniqueKey = "certsmith-acme-account")],
  durableObjectStorage = (localDisk = "state"),
  globalOutbound = "loopback",
);
# README end
