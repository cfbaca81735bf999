// /health, routing errors (404/405), the JSON error shape and the request log line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawConnect, waitFor, BACKEND } from './support/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

async function expectError(res, status, code) {
  assert.equal(res.status, status);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  return body;
}

test('GET /health reports ok, the version, the store and the uptime', async () => {
  const res = await srv.fetch('/health');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const body = await res.json();
  assert.deepEqual(Object.keys(body).sort(), ['status', 'store', 'uptimeS', 'version']);
  assert.equal(body.status, 'ok');
  assert.equal(body.version, '0.1.0');
  assert.deepEqual(body.store, { backend: BACKEND, ok: true });
  assert.ok(Number.isInteger(body.uptimeS) && body.uptimeS >= 0 && body.uptimeS < 600, `uptimeS ${body.uptimeS}`);
});

test('HEAD /health answers 200 with Content-Length and no body', async () => {
  // Raw bytes: a HEAD response that wrongly carried a body would show up as bytes before the
  // second (pipelined) response's status line.
  const c = await rawConnect(srv.port);
  try {
    c.write('HEAD /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await c.waitEnd();
    const first = c.data.indexOf('\r\n\r\n');
    assert.ok(first > 0, c.data);
    const head = c.data.slice(0, first);
    assert.match(head, /^HTTP\/1\.1 200 /);
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    assert.ok(len, `no Content-Length in ${head}`);
    assert.ok(Number(len[1]) > 0);
    assert.match(head, /\r\ncache-control: *no-store/i);
    const rest = c.data.slice(first + 4);
    assert.match(rest, /^HTTP\/1\.1 200 /, 'bytes after the HEAD response headers are not the next response');
    const body2 = rest.slice(rest.indexOf('\r\n\r\n') + 4);
    assert.equal(body2.length, Number(len[1]), 'HEAD Content-Length differs from the GET body length');
  } finally { c.close(); }
});

test('an unknown route is a JSON 404 not_found', async () => {
  await expectError(await srv.fetch('/no/such/route'), 404, 'not_found');
  await expectError(await srv.fetch('/nope', { method: 'POST', json: {} }), 404, 'not_found');
});

test('a wrong method on a known path is 405 with an Allow header', async () => {
  for (const method of ['DELETE', 'POST', 'PUT', 'PATCH']) {
    const res = await srv.fetch('/health', { method });
    await expectError(res, 405, 'method_not_allowed');
    const allow = (res.headers.get('allow') || '').split(',').map((s) => s.trim()).sort();
    assert.deepEqual(allow, ['GET', 'HEAD', 'OPTIONS'], `Allow: ${res.headers.get('allow')}`);
  }
  // /auth/login exists too: GET on it is a 405, not a 404.
  const res = await srv.fetch('/auth/login');
  await expectError(res, 405, 'method_not_allowed');
  assert.match(res.headers.get('allow') || '', /POST/);
});

test('each request is logged as a structured line with method, path, status and duration', async () => {
  // Field order is not part of the contract: every field is matched on its own.
  const lines = (res) => srv.stderr.split('\n').filter((l) => [/\bmsg=request\b/, ...res].every((re) => re.test(l)));
  const ok = [/ method=GET\b/, / path=\/health\b/, / status=200\b/, / dur_ms=\d+(\.\d+)?\b/];
  const before = lines(ok).length;
  const res = await srv.fetch('/health');
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await waitFor(() => lines(ok).length > before, { timeout: 3000, what: 'a msg=request log line for GET /health' });
  assert.match(lines(ok).at(-1), /\blevel=info\b/);

  const r404 = await srv.fetch('/logged-404');
  await r404.arrayBuffer();
  await waitFor(() => lines([/ method=GET\b/, / path=\/logged-404\b/, / status=404\b/]).length === 1,
    { timeout: 3000, what: 'a msg=request log line for the 404' });
});
