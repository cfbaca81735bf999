// 10,000 malformed handshakes and frames in a row, 64 at a time, while a well-behaved subscriber
// receives an event every 50 ms. Every bad attempt gets its documented answer (an HTTP 4xx JSON
// error before the upgrade, or a close frame with 1002/1003/1007/1009/4400 after it) and a closed
// connection; the subscriber gets every event, in order, within 2 s of its publish; the server
// ends healthy with no connection left behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, waitFor } from './support/server.mjs';
import { subscribed, closeAll, wsFrame, upgradeRequest } from './support/stream.mjs';

const TOTAL = 10000;
const PARALLEL = 64;
let srv;
after(async () => { await closeAll(); await srv?.stop(); });

const bad = (token) => {
  const up = (headers = {}, path) => upgradeRequest(srv, { token, headers, path });
  const withFrame = (frame) => Buffer.concat([up(), frame]);
  return [
    // Before the upgrade: HTTP answers.
    { name: 'no key', bytes: up({ 'Sec-WebSocket-Key': undefined }), status: 400 },
    { name: 'short key', bytes: up({ 'Sec-WebSocket-Key': 'abc' }), status: 400 },
    { name: 'version 8', bytes: up({ 'Sec-WebSocket-Version': '8' }), status: 426 },
    { name: 'not websocket', bytes: up({ Upgrade: 'h2c' }), status: 426 },
    { name: 'no token', bytes: upgradeRequest(srv, {}), status: 401 },
    { name: 'bad token', bytes: up({ Authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.' }), status: 401 },
    { name: 'garbage', bytes: Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n'), status: 400 },
    { name: 'bad request line', bytes: Buffer.from('GET /v2/realtime/stream HTTP/9.9\r\n\r\n'), status: [400, 505] },
    { name: 'header bomb', bytes: up({ 'X-Pad': 'a'.repeat(20000) }), status: 431 },
    // After the upgrade: frames that break RFC 6455 or our protocol.
    { name: 'unmasked', bytes: withFrame(wsFrame(1, '{}', { mask: false })), close: 1002 },
    { name: 'reserved opcode', bytes: withFrame(wsFrame(3, 'x')), close: 1002 },
    { name: 'rsv bits', bytes: withFrame(Buffer.from([0xf1, 0x80, 1, 2, 3, 4])), close: 1002 },
    { name: 'bad utf-8', bytes: withFrame(wsFrame(1, Buffer.from([0xc3, 0x28, 0xff]))), close: 1007 },
    { name: 'huge length', bytes: withFrame(Buffer.from([0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4])), close: 1009 },
    { name: 'long ping', bytes: withFrame(wsFrame(9, Buffer.alloc(200))), close: 1002 },
    { name: 'fragmented ping', bytes: withFrame(wsFrame(9, 'x', { fin: false })), close: 1002 },
    { name: 'stray continuation', bytes: withFrame(wsFrame(0, 'x')), close: 1002 },
    { name: 'binary', bytes: withFrame(wsFrame(2, Buffer.from([1, 2, 3]))), close: 1003 },
    { name: 'not json', bytes: withFrame(wsFrame(1, '{"services": [')), close: 4400 },
  ];
};

/** Sends bytes on a fresh connection and resolves with what came back once the server closed. */
function attempt(port, bytes) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const text = buf.toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      let close = null;
      if (status === 101) {
        let off = text.indexOf('\r\n\r\n') + 4;
        while (off + 2 <= buf.length) { // walk the frames to the close frame
          let len = buf[off + 1] & 127;
          let h = 2;
          if (len === 126) { len = buf.readUInt16BE(off + 2); h = 4; }
          if ((buf[off] & 15) === 8 && off + h + 2 <= buf.length) { close = buf.readUInt16BE(off + h); break; }
          off += h + len;
        }
      }
      resolve({ how, status, close, body: status && status !== 101 ? text.slice(text.indexOf('\r\n\r\n') + 4) : '' });
    };
    const timer = setTimeout(() => finish('timeout'), 10000);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); });
    s.on('end', () => finish('end'));
    s.on('close', () => finish('close'));
    s.on('error', () => finish('error'));
  });
}

test(`${TOTAL} malformed handshakes and frames: each answered and closed; a subscriber is served on time throughout`, async (t) => {
  srv = await startServer({ env: { BELLHOP_HANDSHAKE_RATE: '0', BELLHOP_LINGER_MS: '200' } });
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const svc = srv.token({ org: 1, user: 90, role: 'service' });
  const { c: sub } = await subscribed(srv, token, ['finance']);
  const cases = bad(token);

  const sentAt = new Map();
  let i = 0;
  let stop = false;
  const ticker = (async () => {
    while (!stop) {
      const k = i++;
      sentAt.set(k, Date.now());
      const res = await srv.fetch('/v2/realtime/publish', { method: 'POST', token: svc, json: { orgId: 1, service: 'finance', type: 'revenue_created', data: { k } } });
      assert.equal(res.status, 201);
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const arrivals = new Map();
  sub.ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    if (m.type === 'events') for (const e of m.events) arrivals.set(e.data.k, Date.now());
  });

  const results = new Map(cases.map((c) => [c.name, []]));
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < TOTAL) {
      const c = cases[next++ % cases.length];
      results.get(c.name).push(await attempt(srv.port, c.bytes));
    }
  }));
  const ms = Date.now() - t0;
  stop = true;
  await ticker;

  for (const c of cases) {
    for (const r of results.get(c.name)) {
      assert.notEqual(r.how, 'timeout', `${c.name}: the server never closed the connection`);
      if (c.status) {
        const ok = [].concat(c.status).includes(r.status);
        assert.ok(ok, `${c.name}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
        assert.match(r.body, /^\{"error":\{"code":"[a-z_]+"/, `${c.name}: a JSON error`);
      } else {
        assert.equal(r.status, 101, `${c.name}: upgraded`);
        assert.equal(r.close, c.close, `${c.name}: close code`);
      }
    }
  }
  await waitFor(() => arrivals.size === i, { timeout: 5000, what: 'every event at the subscriber' });
  const offsets = sub.events('finance').map((e) => e.offset);
  for (let k = 1; k < offsets.length; k++) assert.equal(offsets[k], offsets[k - 1] + 1, 'in order, no gap');
  const lat = [...arrivals].map(([k, at]) => at - sentAt.get(k)).sort((a, b) => a - b);
  t.diagnostic(`${TOTAL} attempts in ${ms} ms; ${i} events to the subscriber meanwhile: p50 ${lat[Math.floor(lat.length / 2)]} ms, max ${lat[lat.length - 1]} ms`);
  assert.ok(lat[lat.length - 1] < 2000, `max latency ${lat[lat.length - 1]} ms`);
  assert.equal(sub.closeInfo, null);
  assert.equal((await srv.fetch('/health')).status, 200);
  // Nothing left behind: only the subscriber (and the health request's) connections remain.
  const prom = await (await srv.fetch('/metrics')).text();
  const open = Number(/^bellhop_stream_connections (\d+)/m.exec(prom)?.[1]);
  assert.equal(open, 1, 'one stream connection: the subscriber');
});
