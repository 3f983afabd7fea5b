// An HTTP-01 responder Worker with the Spin plugin's contract (plugin-spin/README.md, routes
// and checks of plugin-spin/src/http01.rs): GET/HEAD `/.well-known/acme-challenge/<token>`
// from KV key `http01/<token>`, and the admin API (PUT/DELETE
// `/.well-known/certsmith/http01/<token>`, `Authorization: Bearer <ADMIN_SECRET>`) for hosts
// that publish tokens over HTTP (`certsmith issue --http-edge URL --edge-secret S`).
// Bindings: `KV` (a KV namespace), `ADMIN_SECRET` (a Worker secret; empty or absent turns
// the admin API off). Hostile requests never reach KV. tests/workerd/responder.test.cjs runs it
// under workerd with responder.capnp; wrangler.toml is a sample for deploying it to Cloudflare.

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
const ADMIN_PREFIX = '/.well-known/certsmith/http01/';
const MAX_BODY = 1024;
/** A token: 1 to 128 base64url characters (this rejects `.`, `/`, `%`: every traversal). */
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
/** A canonical unpadded base64url SHA-256 digest: 43 characters, the last carrying 4 bits. */
const THUMBPRINT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** A plain-text answer (`reason` and a newline, or a stored value) that nothing caches. */
function text(status, body, headers = {}) {
  return new Response(body, {
    status,
    headers: { 'content-type': 'text/plain', 'cache-control': 'no-store', ...headers },
  });
}

/** A one-line error answer. */
const error = (status, reason, headers) => text(status, `${reason}\n`, headers);

/** The request's path exactly as sent (no percent-decoding, no dot-segment removal), without
 * the query: taken from the URL string, since `new URL` would resolve `..`. */
function rawPath(url) {
  const path = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  return path.split('?')[0];
}

/** Whether `authorization` is `Bearer <secret>`: SHA-256 digests compared in constant time,
 * so neither the secret's content nor its length leaks. */
async function bearerMatches(authorization, secret) {
  const match = /^(\S+) +(.*)$/.exec(authorization || '');
  if (!match || match[1].toLowerCase() !== 'bearer') return false;
  const digest = async (s) => crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
  return crypto.subtle.timingSafeEqual(await digest(match[2]), await digest(secret));
}

/** At most MAX_BODY + 1 bytes of the body (reading stops there, so a huge body costs one chunk). */
async function boundedBody(request) {
  const chunks = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
      if (size > MAX_BODY) { await reader.cancel(); break; }
    }
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) { body.set(chunk, at); at += chunk.byteLength; }
  return body;
}

/** Why `body` is not the key authorization `<token>.<thumbprint>`, or undefined if it is. */
function keyAuthorizationProblem(token, body) {
  const value = new TextDecoder('utf-8', { fatal: false }).decode(body);
  const dot = value.indexOf('.');
  if (dot < 0) return 'key authorization must be <token>.<thumbprint>';
  if (value.slice(0, dot) !== token) return 'key authorization is for another token';
  if (!THUMBPRINT.test(value.slice(dot + 1))) return 'thumbprint must be 43 base64url characters (SHA-256)';
  return undefined;
}

/** GET/HEAD of a challenge token, from KV. */
async function challenge(request, token, env) {
  const head = request.method === 'HEAD';
  if (!head && request.method !== 'GET') return error(405, 'method not allowed', { allow: 'GET, HEAD' });
  let response;
  if (!TOKEN.test(token)) {
    response = error(400, 'malformed token');
  } else {
    try {
      const value = await env.KV.get(`http01/${token}`);
      response = value === null ? error(404, 'unknown token') : text(200, value);
    } catch (e) {
      console.error(`key-value store: ${e}`);
      response = error(500, 'key-value store unavailable');
    }
  }
  return head ? new Response(null, { status: response.status, headers: response.headers }) : response;
}

/** The admin API: PUT/DELETE of a token's key authorization, checks in the plugin's order. */
async function admin(request, token, env) {
  const secret = env.ADMIN_SECRET;
  if (!secret) return error(404, 'admin API disabled (no admin_secret)');
  if (!(await bearerMatches(request.headers.get('authorization'), secret))) {
    return error(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="certsmith"' });
  }
  if (request.method !== 'PUT' && request.method !== 'DELETE') {
    return error(405, 'method not allowed', { allow: 'PUT, DELETE' });
  }
  if (!TOKEN.test(token)) return error(400, 'malformed token');
  const key = `http01/${token}`;
  try {
    if (request.method === 'DELETE') {
      await env.KV.delete(key);
      return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
    }
    const body = await boundedBody(request);
    if (body.byteLength > MAX_BODY) return error(413, 'body over 1024 bytes');
    const problem = keyAuthorizationProblem(token, body);
    if (problem) return error(422, problem);
    await env.KV.put(key, new TextDecoder().decode(body));
    return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
  } catch (e) {
    console.error(`key-value store: ${e}`);
    return error(500, 'key-value store unavailable');
  }
}

export default {
  /** Routes by the raw path: the challenge, the admin API, or 404. */
  async fetch(request, env) {
    const path = rawPath(request.url);
    if (path.startsWith(CHALLENGE_PREFIX)) return challenge(request, path.slice(CHALLENGE_PREFIX.length), env);
    if (path.startsWith(ADMIN_PREFIX)) return admin(request, path.slice(ADMIN_PREFIX.length), env);
    return error(404, 'not found');
  },
};
