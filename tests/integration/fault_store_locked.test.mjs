// The store locked by someone else: another process (the sqlite3 shell) holds an exclusive write
// lock on the database. A lock shorter than the busy timeout (5 s) only delays writes, which then
// succeed; a longer one fails them with clear errors (HTTP 503 store_unavailable, chat
// store_unavailable), retries succeed afterwards, and the event loops keep serving meanwhile.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startServer, waitFor, BACKEND, lockStore } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';
import { openChat, join as joinRoom, say, demoTokens } from './support/chat.mjs';

let srv;
after(async () => { await srv?.stop(); });
afterEach(closeAll);

/** Holds BEGIN EXCLUSIVE on the server's database until release() (a separate process). On
 * PostgreSQL: an EXCLUSIVE lock on every table (psql), which the store's lock_timeout (5 s, like
 * SQLite's busy timeout) waits for. */
async function lockDb(dataDir) {
  if (BACKEND === 'postgres') return lockStore(dataDir);
  const p = spawn('sqlite3', [join(dataDir, 'bellhop.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((res) => p.once('exit', res));
  p.stdin.write(".timeout 10000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n");
  await waitFor(() => /locked/.test(out), { timeout: 10000, what: 'the exclusive lock' });
  return { release: async () => { p.stdin.write('COMMIT;\n.quit\n'); p.stdin.end(); await exited; } };
}

const publish = (token, data) => srv.fetch('/v2/realtime/publish', { method: 'POST', token, json: { orgId: 1, service: 'finance', type: 'revenue_created', data } });

/** A ping on the stream answered within ms: the worker loop is not blocked by the store. */
async function loopAlive(c, ms) {
  const t0 = Date.now();
  c.send({ type: 'ping' });
  await c.nextType('pong', ms);
  return Date.now() - t0;
}

test('a lock shorter than the busy timeout delays writes; they then succeed and nothing is lost', async () => {
  srv = await startServer({ args: ['--demo'] });
  const tok = demoTokens(srv);
  const svc = srv.token({ org: 1, user: 90, role: 'service' });
  const { c: sub } = await subscribed(srv, tok.owner, ['finance']);
  const chat = await openChat(srv, { token: tok.manager });
  await joinRoom(chat, 'org');

  const lock = await lockDb(srv.dataDir);
  const t0 = Date.now();
  const pending = publish(svc, { during: 'lock' });
  const acked = say(chat, 'org', 'sent while locked', 'locked-1', 15000);
  // Meanwhile the loops serve: pings, health, and reads that need no write lock.
  for (let i = 0; i < 5; i++) assert.ok(await loopAlive(sub, 1000) < 1000);
  assert.equal((await srv.fetch('/health')).status, 200);
  const me = await srv.fetch('/auth/me', { token: tok.owner });
  assert.equal(me.status, 200, 'reads go on under a write lock (WAL)');
  await new Promise((r) => setTimeout(r, 1500 - (Date.now() - t0))); // hold it ~1.5 s in all
  await lock.release();

  const res = await pending;
  assert.equal(res.status, 201, await res.clone().text());
  const { offset } = await res.json();
  const a = await acked;
  assert.equal(a.type, 'ack', JSON.stringify(a));
  const [ev] = await sub.takeEvents(1, { timeoutMs: 5000 });
  assert.equal(ev.offset, offset);
  assert.equal(sub.closeInfo, null);
});

test('a lock longer than the busy timeout: 503 store_unavailable and a typed chat error, no crash; retries succeed after', async () => {
  const tok = demoTokens(srv);
  const svc = srv.token({ org: 1, user: 90, role: 'service' });
  const { c: sub, ack } = await subscribed(srv, tok.owner, ['finance']);
  const chat = await openChat(srv, { token: tok.manager });
  await joinRoom(chat, 'org');

  const lock = await lockDb(srv.dataDir);
  const [res, err] = await Promise.all([
    publish(svc, { during: 'long lock' }),
    say(chat, 'org', 'sent during a long lock', 'locked-2', 15000),
    (async () => { for (let i = 0; i < 10; i++) { assert.ok(await loopAlive(sub, 1500) < 1500); await new Promise((r) => setTimeout(r, 200)); } })(),
  ]);
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.error.code, 'store_unavailable', JSON.stringify(body));
  assert.equal(err.type, 'error', JSON.stringify(err));
  assert.equal(err.code, 'store_unavailable');
  assert.equal(err.clientMsgId, 'locked-2');
  await lock.release();

  // Recovery: the same requests again.
  const again = await publish(svc, { during: 'after' });
  assert.equal(again.status, 201);
  const { offset } = await again.json();
  const retried = await say(chat, 'org', 'sent during a long lock', 'locked-2', 5000);
  assert.equal(retried.type, 'ack');
  assert.equal(retried.duplicate, false, 'the failed attempt stored nothing');
  const evs = await sub.takeEvents(1, { timeoutMs: 5000 });
  assert.equal(evs[0].offset, offset);
  assert.equal(offset, ack.positions.finance.offset + 1, 'the failed publish took no offset');
  assert.equal((await srv.fetch('/health')).status, 200);
});
