// HTTP/1.1 on the wire: keep-alive, pipelining, chunked bodies, Expect, Connection handling,
// slow clients (header/body/idle timeouts) and clients that vanish mid-request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawConnect, waitFor } from './support/server.mjs';

const HEADER_TIMEOUT = 400;
const BODY_TIMEOUT = 400;
const IDLE_TIMEOUT = 1000;
const LOGIN = JSON.stringify({ email: 'owner@demo.bellhop.dev', password: 'bellhop-demo' });

let srv;
before(async () => {
  srv = await startServer({
    args: ['--demo'],
    env: {
      BELLHOP_HEADER_TIMEOUT_MS: String(HEADER_TIMEOUT),
      BELLHOP_BODY_TIMEOUT_MS: String(BODY_TIMEOUT),
      BELLHOP_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT),
      BELLHOP_MAX_BODY: '1024',
      BELLHOP_LINGER_MS: '200',
    },
  });
});
after(async () => { await srv.stop(); });

const pace = (ms) => new Promise((r) => setTimeout(r, ms)); // spaces out writes; never used to wait for a result

/** Parses consecutive HTTP/1.x responses (Content-Length framed; 1xx and 204/304 have no body). */
function parseResponses(data, { headFor = [] } = {}) {
  const out = [];
  let rest = data;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const lines = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
    if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])} in ${JSON.stringify(data)}`);
    const status = Number(m[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const noBody = status < 200 || status === 204 || status === 304 || headFor.includes(out.length);
    const len = noBody ? 0 : Number(headers['content-length'] || 0);
    if (rest.length < end + 4 + len) break;
    out.push({ status, headers, body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}
const waitResponses = (c, n, timeout = 5000) =>
  waitFor(() => { const r = parseResponses(c.data); return r.length >= n && r; }, { timeout, what: `${n} responses` });

function errorCode(resp) {
  assert.match(resp.headers['content-type'] || '', /^application\/json/);
  return JSON.parse(resp.body).error.code;
}

async function assertAlive() {
  let res;
  try {
    res = await srv.fetch('/health');
  } catch (e) {
    throw new Error(`the server no longer answers /health (${e.cause?.code || e.message}):\n${srv.stderr.slice(-2000)}`);
  }
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

const loginRequest = (extra = '') =>
  `POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${LOGIN.length}\r\n${extra}\r\n${LOGIN}`;

// ---------------------------------------------------------------- connection reuse

test('keep-alive: two requests on one connection are both answered', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n');
    const [r1] = await waitResponses(c, 1);
    assert.equal(r1.status, 200);
    assert.notEqual((r1.headers.connection || '').toLowerCase(), 'close');
    assert.equal(c.ended, false, 'the server closed a keep-alive connection after one request');
    c.write('GET /missing HTTP/1.1\r\nHost: t\r\n\r\n');
    const rs = await waitResponses(c, 2);
    assert.equal(rs[1].status, 404);
    assert.equal(errorCode(rs[1]), 'not_found');
    assert.equal(c.ended, false);
  } finally { c.close(); }
});

test('pipelining: three requests in one write get three responses, in order', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n'
      + 'GET /nope HTTP/1.1\r\nHost: t\r\n\r\n'
      + 'GET /health HTTP/1.1\r\nHost: t\r\n\r\n');
    const rs = await waitResponses(c, 3);
    assert.deepEqual(rs.map((r) => r.status), [200, 404, 200]);
    assert.equal(JSON.parse(rs[0].body).status, 'ok');
    assert.equal(errorCode(rs[1]), 'not_found');
    assert.equal(JSON.parse(rs[2].body).status, 'ok');
    assert.equal(parseResponses(c.data).length, 3, 'extra bytes after the third response');
  } finally { c.close(); }
});

test('pipelining with a slow request in the middle keeps the order', async () => {
  // The login is answered after a password hash on another thread; /health after it must wait.
  const c = await rawConnect(srv.port);
  try {
    c.write(`GET /nope HTTP/1.1\r\nHost: t\r\n\r\n${loginRequest()}GET /health HTTP/1.1\r\nHost: t\r\n\r\n`);
    const rs = await waitResponses(c, 3);
    assert.deepEqual(rs.map((r) => r.status), [404, 200, 200]);
    assert.equal(JSON.parse(rs[1].body).tokenType, 'Bearer');
    assert.equal(JSON.parse(rs[2].body).status, 'ok');
  } finally { c.close(); }
});

test('Connection: close gets Connection: close and the server closes', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await c.waitEnd();
    const rs = parseResponses(c.data);
    assert.equal(rs.length, 1);
    assert.equal(rs[0].status, 200);
    assert.equal(rs[0].headers.connection?.toLowerCase(), 'close');
  } finally { c.close(); }
});

test('HTTP/1.0 without keep-alive is answered and closed', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.0\r\n\r\n');
    await c.waitEnd();
    const rs = parseResponses(c.data);
    assert.equal(rs.length, 1);
    assert.equal(rs[0].status, 200);
    assert.equal(JSON.parse(rs[0].body).status, 'ok');
  } finally { c.close(); }
});

test('a request written one byte at a time still works', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.socket.setNoDelay(true);
    const req = 'GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n';
    for (const ch of req) { c.write(ch); await pace(1); }
    await c.waitEnd();
    const rs = parseResponses(c.data);
    assert.equal(rs.length, 1);
    assert.equal(rs[0].status, 200);
  } finally { c.close(); }
});

// ---------------------------------------------------------------- request bodies

test('a chunked login body split across several writes is reassembled', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.socket.setNoDelay(true);
    const parts = [LOGIN.slice(0, 7), LOGIN.slice(7, 30), LOGIN.slice(30)];
    c.write('POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const p of parts) {
      await pace(5);
      c.write(`${p.length.toString(16)}\r\n`);
      await pace(5);
      c.write(`${p}\r\n`);
    }
    await pace(5);
    c.write('0\r\n\r\n');
    const [r] = await waitResponses(c, 1);
    assert.equal(r.status, 200, r.body);
    const body = JSON.parse(r.body);
    assert.equal(body.tokenType, 'Bearer');
    assert.equal(body.user.email, 'owner@demo.bellhop.dev');
  } finally { c.close(); }
});

test('Expect: 100-continue gets 100 Continue before the final answer', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write(`POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${LOGIN.length}\r\nExpect: 100-continue\r\n\r\n`);
    await c.waitData(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    assert.equal(c.data, 'HTTP/1.1 100 Continue\r\n\r\n', 'a final answer came before the body was sent');
    c.write(LOGIN);
    const rs = await waitResponses(c, 2);
    assert.equal(rs[0].status, 100);
    assert.equal(rs[1].status, 200);
    assert.equal(JSON.parse(rs[1].body).tokenType, 'Bearer');
  } finally { c.close(); }
});

test('a body just under BELLHOP_MAX_BODY is accepted', async () => {
  const body = JSON.stringify({ email: 'nobody@example.test', password: 'p'.repeat(900) });
  assert.ok(body.length < 1024);
  const res = await srv.fetch('/auth/login', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.code, 'invalid_credentials');
});

// ---------------------------------------------------------------- slow and silent clients

async function expectTimeout408(prefix, { body = false } = {}) {
  const c = await rawConnect(srv.port);
  try {
    const t0 = Date.now();
    c.write(prefix);
    await c.waitEnd(5000);
    const elapsed = Date.now() - t0;
    const limit = body ? BODY_TIMEOUT : HEADER_TIMEOUT;
    assert.ok(elapsed >= limit / 2, `closed after ${elapsed} ms, before the ${limit} ms timeout`);
    const rs = parseResponses(c.data);
    assert.equal(rs.length, 1, JSON.stringify(c.data));
    assert.equal(rs[0].status, 408);
    assert.equal(errorCode(rs[0]), 'request_timeout');
    assert.equal(rs[0].headers.connection?.toLowerCase(), 'close');
  } finally { c.close(); }
}

test('slowloris: a partial request line gets 408 request_timeout and is closed', async () => {
  await expectTimeout408('GET /hea');
});

test('slowloris: partial headers get 408 request_timeout and are closed', async () => {
  await expectTimeout408('GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: 1\r\n');
});

test('slowloris: headers dribbled byte by byte still time out as a whole', async () => {
  const c = await rawConnect(srv.port);
  try {
    const t0 = Date.now();
    // Keeps sending a byte every 50 ms, so a per-read timer would never fire.
    let stop = false;
    const drip = (async () => {
      c.write('GET /health HTTP/1.1\r\nHost: t\r\n');
      for (let i = 0; !stop && !c.ended && i < 200; i++) { c.write(i % 2 ? 'a' : 'X'); await pace(50); }
    })();
    try {
      await c.waitData(/^HTTP\/1\.1 408 /, 4 * HEADER_TIMEOUT + 2000);
    } finally { stop = true; await drip; }
    assert.ok(Date.now() - t0 >= HEADER_TIMEOUT / 2);
    await c.waitEnd();
  } finally { c.close(); }
});

test('a connection that sends nothing is closed after the header timeout', async () => {
  const c = await rawConnect(srv.port);
  try {
    const t0 = Date.now();
    await c.waitEnd(HEADER_TIMEOUT + 3000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= HEADER_TIMEOUT / 2, `closed after ${elapsed} ms`);
    // A 408 is allowed here, but nothing else.
    if (c.data) assert.match(c.data, /^HTTP\/1\.1 408 /);
  } finally { c.close(); }
});

test('a body that stops short of Content-Length gets 408 and is closed', async () => {
  await expectTimeout408(
    'POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":"a@b.c"',
    { body: true },
  );
});

test('an idle keep-alive connection is closed after the idle timeout', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitResponses(c, 1);
    const t0 = Date.now();
    await c.waitEnd(IDLE_TIMEOUT + 3000);
    const elapsed = Date.now() - t0;
    // The idle timeout (1000 ms), not the shorter header timeout (400 ms), governs this wait.
    assert.ok(elapsed >= IDLE_TIMEOUT * 0.7, `closed after ${elapsed} ms, before the ${IDLE_TIMEOUT} ms idle timeout`);
    assert.equal(parseResponses(c.data).length, 1);
  } finally { c.close(); }
});

test('a connection that is used keeps working up to the idle timeout', async () => {
  const c = await rawConnect(srv.port);
  try {
    c.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n');
    await waitResponses(c, 1);
    await pace(IDLE_TIMEOUT / 2); // well inside the idle timeout
    assert.equal(c.ended, false, 'closed well before the idle timeout');
    c.write('GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const rs = await waitResponses(c, 2);
    assert.equal(rs[1].status, 200);
  } finally { c.close(); }
});

// ---------------------------------------------------------------- vanishing clients

test('clients that disconnect mid-request do not crash the server', async () => {
  const logins = () => srv.stderr.split('\n').filter((l) => /msg=request\b/.test(l) && / path=\/auth\/login\b/.test(l)).length;
  const before = logins();
  // Full logins (the server answers after hashing, to a socket that is gone) ...
  const full = 4;
  for (let i = 0; i < full; i++) {
    const c = await rawConnect(srv.port);
    c.write(loginRequest());
    c.socket.destroy();
  }
  // ... and a body cut off half way, and headers cut off half way.
  for (const bytes of [loginRequest().slice(0, -10), 'POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Ty']) {
    const c = await rawConnect(srv.port);
    c.write(bytes);
    c.socket.destroy();
  }
  // Every full login finishes (and is logged) even though nobody is there to read it.
  await waitFor(() => logins() - before >= full, { timeout: 10000, what: 'the orphaned logins to finish' });
  await assertAlive();
  const res = await srv.fetch('/auth/login', { method: 'POST', body: LOGIN, headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
});
