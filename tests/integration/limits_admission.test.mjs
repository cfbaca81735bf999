// Admission limits (src/net/limit.c): connections per IP and per user, the WebSocket handshake
// rate per IP, the message rate per stream connection, and the process-wide budget for outgoing
// buffers. Each is configured small here, crossed, and checked for its documented answer, for the
// others still being served, and for the count coming back once connections close.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawConnect, waitFor } from './support/server.mjs';
import { openStream, subscribed, closeAll, upgradeRefusal, publisher, metrics } from './support/stream.mjs';
import { openChat } from './support/chat.mjs';
import { openUpload, closeUploads } from './support/upload.mjs';

afterEach(async () => { await closeAll(); await closeUploads(); });

async function server(t, env) {
  const srv = await startServer({ env });
  t.after(() => srv.stop());
  return srv;
}

/** The value of a /metrics sample, e.g. 'bellhop_limit_refusals_total{limit="per_ip"}'. */
async function prom(srv, sample) {
  const text = await (await srv.fetch('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  assert.ok(line, `no ${sample} in /metrics`);
  return Number(line.slice(sample.length + 1));
}

async function health(srv) {
  const res = await srv.fetch('/health');
  await res.arrayBuffer();
  return res.status;
}

test('BELLHOP_MAX_CONNS_PER_IP: the next connection gets 429 too_many_connections, across workers; a freed slot is reusable', async (t) => {
  const srv = await server(t, { BELLHOP_MAX_CONNS_PER_IP: '3' });
  // Three idle connections from 127.0.0.1, spread by the kernel over the two workers.
  const held = [];
  for (let i = 0; i < 3; i++) {
    const c = await rawConnect(srv.port);
    // An answer proves the server accepted (and counted) it; a bare connect only proves the kernel did.
    c.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n');
    await c.waitData(/\r\n\r\n\{[^]*\}$/);
    held.push(c);
  }
  // The fourth must be refused.
  const extra = await rawConnect(srv.port);
  await extra.waitEnd(5000);
  assert.match(extra.data, /^HTTP\/1\.1 429 /);
  assert.match(extra.data, /Content-Type: application\/json/);
  const body = JSON.parse(extra.data.slice(extra.data.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error.code, 'too_many_connections');

  held[0].close();
  held[1].close(); // room for the /metrics request below
  // The slot comes back once the server has seen the close.
  await waitFor(async () => {
    try { return (await health(srv)) === 200; } catch { return false; }
  }, { timeout: 5000, what: 'a connection to be accepted again' });
  assert.equal(await prom(srv, 'bellhop_limit_refusals_total{limit="per_ip"}'), 1);
  for (const c of held) c.close();
});

test('BELLHOP_MAX_CONNS_PER_USER counts realtime, chat and upload streams together; others unaffected', async (t) => {
  const srv = await server(t, { BELLHOP_MAX_CONNS_PER_USER: '2' });
  const ana = srv.token({ org: 1, user: 1, role: 'owner' });
  const ben = srv.token({ org: 1, user: 2, role: 'owner' });
  const s1 = await openStream(srv, { token: ana });
  const chat = await openChat(srv, { token: ana });
  const refused = await openUpload(srv, { token: ana }).then(
    (c) => { c.close(); assert.fail('the third stream of the user was accepted'); },
    (e) => e,
  );
  assert.equal(refused.status, 429);
  assert.equal(refused.json.error.code, 'too_many_connections');
  const again = await upgradeRefusal(srv, { token: ana });
  assert.equal(again.status, 429);

  // Another user, same address: fine.
  const other = await openStream(srv, { token: ben });
  await other.handshake(['finance']);
  // The same user in another organisation is another user.
  await (await openStream(srv, { token: srv.token({ org: 2, user: 1, role: 'owner' }) })).handshake(['tasks']);

  await chat.close();
  const back = await waitFor(async () => {
    try { return await openStream(srv, { token: ana }); } catch (e) {
      if (e.status === 429) return null;
      throw e;
    }
  }, { timeout: 5000, every: 50, what: 'the user to be under the limit again' });
  assert.equal((await back.handshake(['finance'])).type, 'ack');
  assert.ok(await prom(srv, 'bellhop_limit_refusals_total{limit="per_user"}') >= 2);
  await s1.close();
});

test('BELLHOP_HANDSHAKE_RATE / _BURST: upgrades over the bucket get 429 too_many_handshakes with Retry-After; plain HTTP is not counted', async (t) => {
  const srv = await server(t, { BELLHOP_HANDSHAKE_RATE: '1', BELLHOP_HANDSHAKE_BURST: '3' });
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  // Failed attempts count as well: a client hammering with a bad token is still limited.
  const bad = await upgradeRefusal(srv, { token: 'nope' });
  assert.equal(bad.status, 401);
  await (await openStream(srv, { token })).close();
  await (await openStream(srv, { token })).close();
  const r = await upgradeRefusal(srv, { token });
  assert.equal(r.status, 429);
  assert.equal(r.json.error.code, 'too_many_handshakes');
  assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After: ${r.headers['retry-after']}`);
  for (let i = 0; i < 20; i++) assert.equal(await health(srv), 200, 'HTTP requests are not handshakes');
  // One token a second comes back.
  const c = await waitFor(async () => {
    try { return await openStream(srv, { token }); } catch (e) {
      if (e.status === 429) return null;
      throw e;
    }
  }, { timeout: 5000, every: 100, what: 'a handshake token to refill' });
  await c.close();
  assert.ok(await prom(srv, 'bellhop_limit_refusals_total{limit="handshake_rate"}') >= 1);
});

test('BELLHOP_WS_MSG_RATE / _BURST: a client flooding messages is closed with 1008; its neighbours are not', async (t) => {
  const srv = await server(t, { BELLHOP_WS_MSG_RATE: '5', BELLHOP_WS_MSG_BURST: '10' });
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const { c: calm } = await subscribed(srv, token, ['finance']);
  const { c: flood } = await subscribed(srv, token, ['finance']); // the handshake took one token
  for (let i = 0; i < 50; i++) flood.send({ type: 'ping' });
  const close = await flood.waitClose(5000);
  assert.equal(close.code, 1008);
  assert.match(close.reason, /rate/);
  const err = flood.all.find((m) => m.type === 'error');
  assert.equal(err?.code, 'rate_limited', 'a typed error comes before the close');
  const pongs = flood.all.filter((m) => m.type === 'pong').length;
  assert.ok(pongs >= 9 && pongs < 20, `answered about the burst only (${pongs} pongs)`);

  // The same limit on the chat stream.
  const chat = await openChat(srv, { token });
  for (let i = 0; i < 50; i++) chat.send({ type: 'ping' });
  assert.equal((await chat.waitClose(5000)).code, 1008);

  // A client within the rate is never bothered.
  for (let i = 0; i < 5; i++) {
    calm.send({ type: 'ping' });
    await calm.nextType('pong', 2000);
  }
  assert.equal(calm.closeInfo, null);
  assert.equal(await prom(srv, 'bellhop_limit_refusals_total{limit="message_rate"}'), 2);
});

test('BELLHOP_OUTBUF_BUDGET: over the global budget the slowest consumers are closed (4429), the fast ones get everything', async (t) => {
  // Per-connection cap out of the way (64 MiB): only the process-wide budget can trigger.
  const srv = await server(t, { BELLHOP_OUTBUF_BUDGET: String(2 * 1024 * 1024), BELLHOP_WS_MAX_OUTBUF: String(64 * 1024 * 1024) });
  const pub = publisher(srv, { org: 1 });
  const owner = srv.token({ org: 1, user: 1, role: 'owner' });
  const m0 = await metrics(srv, owner);
  const fast = [];
  let base = 0;
  for (let i = 0; i < 4; i++) {
    const { c, ack } = await subscribed(srv, owner, ['finance']);
    fast.push(c);
    base = ack.positions.finance.offset;
  }
  const slow = [];
  for (let i = 0; i < 2; i++) {
    const { c } = await subscribed(srv, owner, ['finance']);
    c.ws._socket.pause();
    slow.push(c);
  }
  const pad = 'x'.repeat(32 * 1024);
  let n = 0;
  let closes = m0.slowConsumerCloses;
  while (closes < m0.slowConsumerCloses + 2) {
    assert.ok(n < 4000, `the slow consumers were not closed after ${n} events of 32 KiB`);
    await Promise.all(Array.from({ length: 8 }, () => pub({ data: { pad } })));
    n += 8;
    closes = (await metrics(srv, owner)).slowConsumerCloses;
  }
  await pub({ data: { after: true } });
  n += 1;
  assert.equal(closes, m0.slowConsumerCloses + 2, 'only the two slow connections were closed');
  for (const f of fast) {
    const got = await f.takeEvents(n, { timeoutMs: 20000 });
    assert.deepEqual(got.map((e) => e.offset), Array.from({ length: n }, (_, i) => base + 1 + i));
    assert.equal(f.closeInfo, null);
  }
  for (const s of slow) {
    s.ws._socket.resume();
    assert.equal((await s.waitClose(10000)).code, 4429);
  }
  // Their queues were freed with them: the process-wide count is back to (almost) nothing.
  await waitFor(async () => (await prom(srv, 'bellhop_outbuf_bytes')) < 64 * 1024, { timeout: 5000, what: 'the outgoing bytes to drain' });
});
