// Limits that no other file covers: the lifetime of issued tokens and the default long-poll wait.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';

let srv;

before(async () => {
  srv = await startServer({ args: ['--demo', '--token-ttl', '120'], env: { BELLHOP_POLL_TIMEOUT_S: '1' } });
});
after(async () => {
  await srv?.stop();
});

function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

test('BELLHOP_TOKEN_TTL / --token-ttl sets the lifetime of login tokens', async () => {
  const res = await srv.fetch('/auth/login', { method: 'POST', json: { email: 'owner@demo.bellhop.dev', password: 'bellhop-demo' } });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.expiresIn, 120);
  const c = claims(body.token);
  assert.equal(c.exp - c.iat, 120);
});

test('BELLHOP_POLL_TIMEOUT_S is the wait of a poll that names no timeout', async () => {
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const t0 = Date.now();
  const res = await srv.fetch('/v1/realtime/finance/poll', { token });
  const waited = Date.now() - t0;
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.events, []);
  assert.ok(waited >= 900 && waited < 5000, `waited ${waited} ms, expected about 1 s`);
});
