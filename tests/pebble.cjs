// A local Pebble CA for Node test runners, as tests/node/order.e2e.test.cjs starts one:
// pebble and pebble-challtestsrv (Debian package `pebble`) on free loopback ports, every name
// resolving to 127.0.0.1, a throwaway TLS root made with openssl. Processes started through
// `start` (Pebble's and any the caller adds) are killed by PID in `stopAll`.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync, execFileSync } = require('node:child_process');

/** A free TCP port on 127.0.0.1 (bound to port 0, then closed). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits (at most `ms`) until 127.0.0.1:`port` accepts connections; fails early if `child`
 * (when given) exits first, with the tail of its log `logFile`. */
async function waitForPort(port, ms, what, child, logFile) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.setTimeout(200);
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => { socket.destroy(); resolve(false); });
    });
    if (ok) return;
    const exited = child && (child.exitCode !== null || child.signalCode !== null);
    if (exited || Date.now() > deadline) {
      const log = logFile ? `\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}` : '';
      const why = exited ? ` (it exited: ${child.exitCode ?? child.signalCode})` : '';
      throw new Error(`${what} did not listen on ${port} within ${ms} ms${why}${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes started with `start`, in one run of a test file. */
class Processes {
  /** `dir`: where the logs go. */
  constructor(dir) {
    this.dir = dir;
    this.children = [];
  }

  /** Starts `command` with its output in `log` (a file in the test dir); remembered for `stopAll`. */
  start(command, args, log, env = {}, options = {}) {
    const out = fs.openSync(path.join(this.dir, log), 'a');
    const child = spawn(command, args, { stdio: ['ignore', out, out], env: { ...process.env, ...env }, ...options });
    fs.closeSync(out);
    this.children.push(child);
    child.once('error', () => {}); // a spawn failure shows as an exit; waitForPort reports it
    return child;
  }

  /** Kills one process by its PID (SIGKILL) and waits at most 5 s for it to exit. */
  async stop(child) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
      await Promise.race([
        new Promise((resolve) => child.once('exit', resolve)),
        new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
      ]);
    }
    this.children = this.children.filter((c) => c !== child);
  }

  /** Kills every process still remembered, by PID. */
  async stopAll() {
    for (const child of [...this.children]) await this.stop(child);
  }
}

/** Whether `command` is on PATH. */
const installed = (command) => spawnSync('which', [command]).status === 0;

/**
 * Starts pebble-challtestsrv and pebble with their files in `dir`. Fails with the reason
 * (never skips) when they are not installed. Returns `{directory, management, httpPort,
 * tlsRoot}` (`tlsRoot`: the path of the root that signed Pebble's own TLS certificate).
 */
async function startPebble(processes, dir) {
  for (const command of ['pebble', 'pebble-challtestsrv', 'openssl']) {
    if (!installed(command)) {
      throw new Error(`${command} is not installed: this test needs Debian's pebble package `
        + '(apt-get install pebble openssl; .ci/run installs it)');
    }
  }
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 20_000 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=test TLS root', '-keyout', 'root.key',
    '-out', 'root.pem');
  openssl('req', ...ec, '-subj', '/CN=localhost', '-keyout', 'localhost.key', '-out', 'localhost.csr');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'localhost.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial',
    '-days', '2', '-extfile', 'san.ext', '-out', 'localhost.pem');

  const ports = [];
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  const [pListen, pManagement, pHttp, pTls, pDns, pDnsManagement] = ports;
  fs.writeFileSync(path.join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${pListen}`,
      managementListenAddress: `127.0.0.1:${pManagement}`,
      certificate: path.join(dir, 'localhost.pem'),
      privateKey: path.join(dir, 'localhost.key'),
      httpPort: pHttp,
      tlsPort: pTls,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  }));
  processes.start('pebble-challtestsrv', ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-http01', '',
    '-https01', '', '-tlsalpn01', '', '-dns01', `127.0.0.1:${pDns}`, '-management', `127.0.0.1:${pDnsManagement}`],
  'challtestsrv.log');
  const pebble = processes.start('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver',
    `127.0.0.1:${pDns}`], 'pebble.log', { PEBBLE_VA_NOSLEEP: '1' });
  const log = path.join(dir, 'pebble.log');
  await waitForPort(pListen, 10_000, 'pebble', pebble, log);
  await waitForPort(pManagement, 10_000, 'pebble (management)', pebble, log);
  return {
    directory: `https://localhost:${pListen}/dir`,
    management: `https://localhost:${pManagement}`,
    httpPort: pHttp,
    tlsRoot: path.join(dir, 'root.pem'),
  };
}

/**
 * Runs the Node script `script` as a child process that trusts Pebble's TLS root (`ca`, from
 * `startPebble`), with `env` added, for at most `ms`: the client half of a test, which prints
 * a JSON report. Resolves with the report; rejects with the child's stderr and the tail of
 * Pebble's log (in `dir`) if it fails. The child is remembered in `processes`.
 */
function runClientScript(processes, dir, ca, script, env, ms = 90_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.tlsRoot, ...env },
    });
    processes.children.push(child); // killed by PID in stopAll() if still running
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      reject(new Error(`the client did not finish within ${ms} ms\n${stderr}`));
    }, ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const pebbleLog = fs.readFileSync(path.join(dir, 'pebble.log'), 'utf8').slice(-4000);
        reject(new Error(`the client exited with ${code ?? signal}:\n${stderr}\npebble.log:\n${pebbleLog}`));
        return;
      }
      try { resolve(JSON.parse(stdout)); } catch (e) { reject(new Error(`bad report: ${e}\n${stdout}\n${stderr}`)); }
    });
  });
}

/** GET over HTTPS trusting the root at `caFile` (Pebble's management API); the body as text. */
function httpsText(url, caFile) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: fs.readFileSync(caFile), timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/**
 * An HTTP-01 responder on 127.0.0.1:`port` for a test's client half: `served` maps a request
 * path (`/.well-known/acme-challenge/TOKEN`) to the key authorization a GET gets; `hits` lists
 * every path asked for; `close` stops it.
 */
async function serveHttp01(port) {
  const served = new Map();
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url);
    if (req.method === 'GET' && served.has(req.url)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(served.get(req.url));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { served, hits, close: () => server.close() };
}

module.exports = {
  Processes, freePort, waitForPort, startPebble, runClientScript, httpsText, serveHttp01,
};
