// CORS (default "*" and an explicit allow-list) and the static file server (ETag/304, traversal).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, rawConnect, ROOT } from './support/server.mjs';

const SECRET = 'TOP-SECRET-OUTSIDE-WEB-DIR';
const HIDDEN = 'HIDDEN-DOTFILE-CONTENT';
let open;       // default allow-list "*", a temp web dir with traps around it
let strict;     // BELLHOP_ALLOWED_ORIGINS=https://app.example, the repository's web/
let sandbox;

before(async () => {
  // sandbox/secret.txt sits next to the web dir; sandbox/web/.hidden is a dotfile inside it.
  sandbox = mkdtempSync(join(tmpdir(), 'bellhop-web-'));
  const web = join(sandbox, 'web');
  mkdirSync(join(web, 'sub'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>sandbox</title>\n');
  writeFileSync(join(web, 'sub', 'page.txt'), 'sub page\n');
  writeFileSync(join(web, '.hidden'), HIDDEN);
  writeFileSync(join(sandbox, 'secret.txt'), SECRET);
  open = await startServer({ args: ['--web-dir', web] });
  strict = await startServer({ env: { BELLHOP_ALLOWED_ORIGINS: 'https://app.example' } });
});
after(async () => {
  try {
    await Promise.all([open?.stop(), strict?.stop()]);
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
});

async function expectJsonError(res, status, code) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal((await res.json()).error.code, code);
}

// ---------------------------------------------------------------- CORS

test('default allow-list "*": the request Origin is echoed with Vary: Origin, no credentials', async () => {
  const res = await open.fetch('/health', { headers: { origin: 'http://a.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), 'http://a.example');
  assert.match(res.headers.get('vary') || '', /\bOrigin\b/i);
  assert.equal(res.headers.get('access-control-allow-credentials'), null);
  await res.arrayBuffer();
  // Errors carry the CORS headers too, so browsers can read them.
  const err = await open.fetch('/nope', { headers: { origin: 'http://b.example' } });
  assert.equal(err.headers.get('access-control-allow-origin'), 'http://b.example');
  await expectJsonError(err, 404, 'not_found');
});

test('no Origin, no CORS headers', async () => {
  const res = await open.fetch('/health');
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  await res.arrayBuffer();
});

test('preflight OPTIONS /auth/login is 204 with the allowed methods and headers', async () => {
  const res = await open.fetch('/auth/login', {
    method: 'OPTIONS',
    headers: {
      origin: 'http://a.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, authorization',
    },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), 'http://a.example');
  const methods = (res.headers.get('access-control-allow-methods') || '').split(',').map((s) => s.trim());
  assert.ok(methods.includes('POST'), `Allow-Methods: ${methods}`);
  const allowed = (res.headers.get('access-control-allow-headers') || '').toLowerCase();
  assert.match(allowed, /content-type/);
  assert.match(allowed, /authorization/);
  assert.equal(await res.text(), '');
});

test('an allow-listed origin is echoed with Allow-Credentials: true', async () => {
  const res = await strict.fetch('/health', { headers: { origin: 'https://app.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.equal(res.headers.get('access-control-allow-credentials'), 'true');
  assert.match(res.headers.get('vary') || '', /\bOrigin\b/i);
  await res.arrayBuffer();

  const pre = await strict.fetch('/auth/login', {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.match(pre.headers.get('access-control-allow-methods') || '', /\bPOST\b/);
});

test('another origin: preflight is 403 origin_not_allowed, simple requests get no CORS headers', async () => {
  for (const origin of ['https://evil.example', 'http://app.example', 'https://app.example.evil.test', 'null']) {
    const pre = await strict.fetch('/auth/login', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), null, origin);
    await expectJsonError(pre, 403, 'origin_not_allowed');

    const res = await strict.fetch('/health', { headers: { origin } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
    assert.equal(res.headers.get('access-control-allow-credentials'), null, origin);
    await res.arrayBuffer();
  }
});

// ---------------------------------------------------------------- static files

test('GET / serves web/index.html with an ETag, and If-None-Match gives 304', async () => {
  const res = await strict.fetch('/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/html/);
  assert.equal(await res.text(), readFileSync(join(ROOT, 'web', 'index.html'), 'utf8'));
  const etag = res.headers.get('etag');
  assert.ok(etag, 'no ETag');

  const again = await strict.fetch('/', { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), '');
  assert.equal(again.headers.get('etag'), etag);

  const stale = await strict.fetch('/', { headers: { 'if-none-match': '"not-the-etag"' } });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();
});

test('files under the web dir are served with their own type and ETag', async () => {
  const res = await open.fetch('/sub/page.txt');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/plain/);
  assert.equal(await res.text(), 'sub page\n');
  const root = await open.fetch('/');
  assert.equal(await root.text(), '<!doctype html><title>sandbox</title>\n');
  assert.notEqual(root.headers.get('etag'), res.headers.get('etag'));
});

async function rawGet(srv, target) {
  const c = await rawConnect(srv.port);
  try {
    c.write(`GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    await c.waitEnd();
    return c.data;
  } finally { c.close(); }
}

test('path traversal and dotfiles are 404 JSON errors and never leak file contents', async () => {
  const targets = [
    '/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc/passwd', '/.hidden', '/%2ehidden',
    '/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/sub/../../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt',
    '/sub/..%2f..%2fsecret.txt', '/..\\secret.txt', '/%2e%2e%5csecret.txt', '/sub/../.hidden', '//etc/passwd',
    '/%00/../secret.txt', '/index.html%00.txt',
  ];
  for (const srv of [open, strict]) {
    for (const target of targets) {
      const data = await rawGet(srv, target);
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(data);
      assert.ok(m, `${target}: ${JSON.stringify(data)}`);
      assert.ok(['400', '404'].includes(m[1]), `${target}: status ${m[1]}`);
      assert.doesNotMatch(data, /root:.*:0:0:/, `${target} leaked /etc/passwd`);
      assert.ok(!data.includes(SECRET), `${target} leaked a file outside the web dir`);
      assert.ok(!data.includes(HIDDEN), `${target} leaked a dotfile`);
      const body = data.slice(data.indexOf('\r\n\r\n') + 4);
      assert.match(data, /\r\nContent-Type: application\/json/i, target);
      assert.ok(JSON.parse(body).error.code, target);
    }
    // The listed cases must be exactly 404 not_found.
    for (const target of ['/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/.hidden', '/..%2f..%2fetc/passwd']) {
      const data = await rawGet(srv, target);
      assert.match(data, /^HTTP\/1\.1 404 /, target);
      assert.equal(JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4)).error.code, 'not_found', target);
    }
  }
});
