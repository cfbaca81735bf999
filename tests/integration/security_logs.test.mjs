// Secrets never reach the log: a server at debug level is given a known JWT secret, users log in
// (right and wrong passwords), create users with passwords, and present tokens every way the
// server accepts them (header, ?access_token=, cookie, WebSocket upgrade), and an identity
// document number goes through tus metadata; then none of those values may appear in its log
// (stderr). A PostgreSQL URL with a password that cannot connect must not leak it either.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, bellhop, BIN } from './support/server.mjs';
import { openStream, closeAll } from './support/stream.mjs';
import { checkinGuest, TUS_PATH } from './support/upload.mjs';

const SECRET = 'Sekr1t-jwt-key-for-the-log-test-0123456789';
const USER_PW = 'Pa55word-in-a-log-test!';
const WRONG_PW = 'Wr0ng-passw0rd-zzz-qqq';
const NEW_PW = 'N3w-user-pa55word-xyz';
const AADHAAR = '234123412346';
let srv;

before(async () => {
  srv = await startServer({
    args: ['--demo'],
    env: { BELLHOP_JWT_SECRET: SECRET, BELLHOP_LOG_LEVEL: 'debug' },
  });
});
after(async () => {
  await closeAll();
  await srv?.stop();
});

const b64 = (s) => Buffer.from(s).toString('base64');

test('tokens, passwords, the JWT secret and document numbers never appear in the log', async () => {
  bellhop(['user', 'add', '--org', '1', '--email', 'log.test@example.test', '--name', 'Log Test',
    '--role', 'owner'], { dataDir: srv.dataDir, env: { BELLHOP_PASSWORD: USER_PW, BELLHOP_JWT_SECRET: SECRET } });

  const ok = await srv.fetch('/auth/login', { method: 'POST', json: { email: 'log.test@example.test', password: USER_PW } });
  assert.equal(ok.status, 200);
  const { token } = await ok.json();
  const bad = await srv.fetch('/auth/login', { method: 'POST', json: { email: 'log.test@example.test', password: WRONG_PW } });
  assert.equal(bad.status, 401);
  await bad.arrayBuffer();

  // Every way a token is accepted, and a tampered one that is refused.
  for (const r of [
    await srv.fetch('/auth/me', { token }),
    await srv.fetch(`/auth/me?access_token=${token}`),
    await srv.fetch('/auth/me', { headers: { cookie: `bellhop_token=${token}` } }),
    await srv.fetch('/auth/me', { token: `${token}x` }),
  ]) await r.arrayBuffer();
  const ws = await openStream(srv, { token, via: 'query' });
  await ws.handshake(['finance']);

  const created = await srv.fetch('/users', {
    method: 'POST', token,
    json: { email: 'new.user@example.test', name: 'New', role: 'staff', password: NEW_PW, propertyIds: [1] },
  });
  assert.equal(created.status, 201, await created.text());

  const guest = await checkinGuest(srv, token);
  const meta = [['documentType', 'aadhaar'], ['guestId', String(guest.id)], ['propertyId', String(guest.propertyId)],
    ['fileName', 'id.pdf'], ['documentNumber', '2341 2341 2346']].map(([k, v]) => `${k} ${b64(v)}`).join(',');
  const tus = await srv.fetch(TUS_PATH, {
    method: 'POST', token,
    headers: { 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-metadata': meta },
  });
  assert.equal(tus.status, 201, await tus.text());

  await closeAll();
  await srv.stop();
  const log = srv.stderr;
  assert.match(log, /msg=request /, 'the log has request lines (the test sees the log)');
  const sig = token.split('.')[2];
  for (const [what, value] of [['JWT secret', SECRET], ['token signature', sig], ['password', USER_PW],
    ['wrong password', WRONG_PW], ['new user password', NEW_PW], ['Aadhaar number', AADHAAR],
    ['Aadhaar number as typed', '2341 2341 2346']]) {
    assert.ok(!log.includes(value), `the ${what} appears in the log`);
  }
  srv = null;
});

test('a database URL password is not logged when the store cannot be reached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bellhop-sec-'));
  try {
    const pw = 'Db-pa55word-never-logged';
    const r = spawnSync(BIN, ['migrate', '--data-dir', dir], {
      env: { ...process.env, BELLHOP_LOG_LEVEL: 'debug', BELLHOP_DATABASE_URL: `postgres://bellhop:${pw}@127.0.0.1:1/bellhop?connect_timeout=1` },
      encoding: 'utf8', timeout: 30000,
    });
    assert.notEqual(r.status, 0, 'migrate against an unreachable database fails');
    assert.ok(!(r.stderr + r.stdout).includes(pw), `the database password appears in the output:\n${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
