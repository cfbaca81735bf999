// Protocol errors and size limits: garbage (400), bodies over BELLHOP_MAX_BODY (413), headers over
// BELLHOP_MAX_HEADER_SIZE / BELLHOP_MAX_HEADERS (431). Each answer is JSON, closes the connection,
// and leaves the server serving. Each test has its own server so that one crash cannot hide the
// others' results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawConnect } from './support/server.mjs';

const BASE_ENV = { BELLHOP_MAX_BODY: '1024', BELLHOP_LINGER_MS: '200' };

async function server(t, env = {}, args = []) {
  const srv = await startServer({ env: { ...BASE_ENV, ...env }, args, workers: 1 });
  t.after(() => srv.stop());
  return srv;
}

async function assertAlive(srv) {
  let res;
  try {
    res = await srv.fetch('/health');
  } catch (e) {
    const exit = srv.child.signalCode || srv.child.exitCode;
    throw new Error(`the server no longer answers /health (${e.cause?.code || e.message}; exit ${exit}):\n${srv.stderr.slice(-1500)}`);
  }
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

/** Sends bytes, waits for the server to close, and returns the single response it sent. */
async function exchange(srv, bytes) {
  const c = await rawConnect(srv.port);
  try {
    c.write(bytes);
    await c.waitEnd(5000);
    const data = c.data;
    const end = data.indexOf('\r\n\r\n');
    assert.ok(end > 0, `no response: ${JSON.stringify(data)}`);
    const lines = data.slice(0, end).split('\r\n');
    const headers = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const body = data.slice(end + 4);
    assert.equal(body.length, Number(headers['content-length']), 'exactly one response, Content-Length framed');
    return { status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0])?.[1]), headers, body };
  } finally { c.close(); }
}

function assertError(r, status, code) {
  assert.equal(r.status, status, JSON.stringify(r));
  assert.match(r.headers['content-type'] || '', /^application\/json/);
  assert.equal(JSON.parse(r.body).error.code, code);
  assert.equal(r.headers.connection?.toLowerCase(), 'close');
}

const headersOf = (n, extra = '') => {
  let s = `GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n${extra}`;
  for (let i = 0; i < n - 2; i++) s += `X-H${i}: v\r\n`;
  return `${s}\r\n`;
};

test('garbage bytes get 400 bad_request, the connection closes, the server lives on', async (t) => {
  const srv = await server(t);
  assertError(await exchange(srv, 'garbage\r\n\r\n'), 400, 'bad_request');
  await assertAlive(srv);
  assertError(await exchange(srv, '\x00\x01\x02\xff\r\n\r\n'), 400, 'bad_request');
  await assertAlive(srv);
});

test('a malformed request after a good one on the same connection gets 200 then 400', async (t) => {
  const srv = await server(t);
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n');
    await c.waitEnd(5000);
    assert.match(c.data, /^HTTP\/1\.1 200 [^]*HTTP\/1\.1 400 [^]*"bad_request"/);
  } finally { c.close(); }
  await assertAlive(srv);
});

test('Content-Length over BELLHOP_MAX_BODY gets 413 body_too_large and the connection closes', async (t) => {
  const srv = await server(t);
  const r = await exchange(srv,
    `POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2000\r\n\r\n${'a'.repeat(2000)}`);
  assertError(r, 413, 'body_too_large');
  await assertAlive(srv);
});

test('a chunked body growing over BELLHOP_MAX_BODY gets 413', async (t) => {
  const srv = await server(t);
  const chunk = 'a'.repeat(600);
  const r = await exchange(srv, 'POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n'
    + `Transfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`);
  assertError(r, 413, 'body_too_large');
  await assertAlive(srv);
});

test('headers over the default 16384 bytes get 431 headers_too_large; just under is fine', async (t) => {
  const srv = await server(t);
  const ok = await exchange(srv, `GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: ${'a'.repeat(15000)}\r\n\r\n`);
  assert.equal(ok.status, 200);
  assertError(await exchange(srv, `GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(17000)}\r\n\r\n`),
    431, 'headers_too_large');
  await assertAlive(srv);
});

test('more than the default 64 headers get 431 too_many_headers; 64 are fine', async (t) => {
  const srv = await server(t);
  assert.equal((await exchange(srv, headersOf(64))).status, 200);
  assertError(await exchange(srv, headersOf(65)), 431, 'too_many_headers');
  await assertAlive(srv);
});

test('the header limits are configurable (BELLHOP_MAX_HEADERS, --max-header-size)', async (t) => {
  const srv = await server(t, { BELLHOP_MAX_HEADERS: '8' }, ['--max-header-size', '2048']);
  assert.equal((await exchange(srv, headersOf(8))).status, 200);
  assertError(await exchange(srv, headersOf(9)), 431, 'too_many_headers');
  assert.equal((await exchange(srv, `GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: ${'a'.repeat(1800)}\r\n\r\n`)).status, 200);
  assertError(await exchange(srv, `GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(2100)}\r\n\r\n`),
    431, 'headers_too_large');
  await assertAlive(srv);
});
