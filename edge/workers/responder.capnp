# workerd config for the HTTP-01 responder Worker (responder.js) with a local KV namespace:
# how tests/workerd/responder.test.cjs and scripts/bench-runtimes.py run it, and a sample for
# running it under workerd yourself (from the repository root):
#
#   ADMIN_SECRET=… workerd serve --experimental edge/workers/responder.capnp config \
#     -s http=127.0.0.1:<port> -d kv-disk=<dir>
#
# KV is workerd's bundled KV Worker (`/workerd/kv.js`, experimental: needs `--experimental`),
# a SQLite-backed Durable Object on the `kv-disk` directory. ADMIN_SECRET is read from the
# environment, as a Worker secret would be given (absent or empty: no admin API). On
# Cloudflare the same two bindings come from wrangler.toml beside this file.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "responder", worker = (
      modules = [(name = "responder.js", esModule = embed "responder.js")],
      compatibilityDate = "2026-11-01",
      bindings = [
        (name = "KV", kvNamespace = (name = "kv", props = (json = "{\"namespace\": \"http01\"}"))),
        (name = "ADMIN_SECRET", fromEnvironment = "ADMIN_SECRET"),
      ],
      globalOutbound = "none",
    )),
    (name = "none", network = (allow = [])), # the responder makes no outgoing requests
    (name = "kv", worker = (
      modules = [(name = "kv.js", bundled = "/workerd/kv.js")],
      compatibilityDate = "2026-11-01",
      bindings = [
        (name = "SHARD", durableObjectNamespace = "KVNamespace"),
        (name = "BLOBS", service = "kv-disk"),
      ],
      durableObjectNamespaces = [(className = "KVNamespace", uniqueKey = "certsmith-kv", enableSql = true)],
      durableObjectStorage = (localDisk = "kv-disk"),
    )),
    (name = "kv-disk", disk = (path = "/nonexistent", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "responder")],
);
