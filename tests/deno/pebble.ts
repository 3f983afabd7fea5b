// A local Pebble CA for the Deno tests, the way tests/node/order.e2e.test.cjs starts one:
// pebble and pebble-challtestsrv (Debian package `pebble`) on free loopback ports, every name
// resolving to 127.0.0.1, a throwaway TLS root made with openssl. Every process started here
// is killed by its PID in `stop()`.

/** A running Pebble: its URLs, the port it validates HTTP-01 on, its TLS root, and `stop`. */
export interface Pebble {
  directory: string;
  management: string;
  httpPort: number;
  /** PEM of the root that signed Pebble's own TLS certificate (not its issuing root). */
  tlsRootPem: string;
  /** The directory holding config, certificates and logs. */
  dir: string;
  /** The last lines of pebble's log, for failure messages. */
  log(): Promise<string>;
  /** Kills every process by PID and waits for them to exit. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound to port 0, then closed). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Waits (at most `ms`) until 127.0.0.1:`port` accepts connections. */
async function waitForPort(port: number, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      (await Deno.connect({ hostname: '127.0.0.1', port })).close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Runs `openssl` with `args` in `cwd`; throws with its stderr if it fails. */
export async function openssl(cwd: string, ...args: string[]): Promise<string> {
  let out;
  try {
    out = await new Deno.Command('openssl', { args, cwd, stdout: 'piped', stderr: 'piped' }).output();
  } catch (e) {
    throw new Error(`cannot run openssl (apt-get install openssl): ${e}`);
  }
  const text = new TextDecoder();
  if (!out.success) throw new Error(`openssl ${args.join(' ')} failed: ${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

/** Starts pebble-challtestsrv and pebble in a new temporary directory under `base`.
 * Fails with the reason (not a skip) if Pebble is not installed or does not come up. */
export async function startPebble(base: string): Promise<Pebble> {
  await Deno.mkdir(base, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: base, prefix: 'pebble-' });
  const children: Deno.ChildProcess[] = [];

  const pipes: Promise<unknown>[] = []; // each child's output copied to its log file

  /** Kills every child started so far by PID and waits (bounded) for each to exit. */
  const stop = async () => {
    for (const child of children) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
      await Promise.race([child.status, new Promise((r) => setTimeout(r, 5_000))]);
    }
    await Promise.race([Promise.allSettled(pipes), new Promise((r) => setTimeout(r, 5_000))]);
    children.length = 0;
  };

  /** Starts `command` with its stdout and stderr appended to `log` (a file in `dir`). */
  const start = async (command: string, args: string[], log: string, env: Record<string, string> = {}) => {
    let child;
    try {
      child = new Deno.Command(command, { args, env, stdin: 'null', stdout: 'piped', stderr: 'piped' }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(`${command} is not installed: this test needs Debian's pebble package `
          + '(apt-get install pebble openssl; .ci/run installs it)');
      }
      throw e;
    }
    children.push(child);
    for (const stream of [child.stdout, child.stderr]) {
      const file = await Deno.open(`${dir}/${log}`, { append: true, create: true });
      pipes.push(stream.pipeTo(file.writable).catch(() => {})); // closes the file at the end
    }
  };

  try {
    // Pebble's own TLS listener: a throwaway root and a localhost leaf.
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await openssl(dir, 'req', '-x509', ...ec, '-days', '2', '-subj', '/CN=test TLS root',
      '-keyout', 'root.key', '-out', 'root.pem');
    await openssl(dir, 'req', ...ec, '-subj', '/CN=localhost', '-keyout', 'localhost.key', '-out', 'localhost.csr');
    await Deno.writeTextFile(`${dir}/san.ext`, 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    await openssl(dir, 'x509', '-req', '-in', 'localhost.csr', '-CA', 'root.pem', '-CAkey', 'root.key',
      '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'localhost.pem');

    const [pListen, pManagement, pHttp, pTls, pDns, pDnsManagement] = Array.from({ length: 6 }, freePort);
    await Deno.writeTextFile(`${dir}/pebble.json`, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${pListen}`,
        managementListenAddress: `127.0.0.1:${pManagement}`,
        certificate: `${dir}/localhost.pem`,
        privateKey: `${dir}/localhost.key`,
        httpPort: pHttp,
        tlsPort: pTls,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }));
    await start('pebble-challtestsrv', ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-http01', '',
      '-https01', '', '-tlsalpn01', '', '-dns01', `127.0.0.1:${pDns}`, '-management',
      `127.0.0.1:${pDnsManagement}`], 'challtestsrv.log');
    await start('pebble', ['-config', `${dir}/pebble.json`, '-dnsserver', `127.0.0.1:${pDns}`], 'pebble.log',
      { PEBBLE_VA_NOSLEEP: '1' });
    await waitForPort(pListen, 10_000, 'pebble');
    await waitForPort(pManagement, 10_000, 'pebble (management)');
    return {
      directory: `https://localhost:${pListen}/dir`,
      management: `https://localhost:${pManagement}`,
      httpPort: pHttp,
      tlsRootPem: await Deno.readTextFile(`${dir}/root.pem`),
      dir,
      log: async () => (await Deno.readTextFile(`${dir}/pebble.log`).catch(() => '')).slice(-4000),
      stop,
    };
  } catch (e) {
    await stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
