// Limits that no other file covers: the lifetime of issued tokens, the default and maximum
// long-poll wait, and the csv/excel upload size limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { openUpload, closeUploads, checkinGuest, startMsg } from './support/upload.mjs';

let srv;

before(async () => {
  srv = await startServer({
    args: ['--demo', '--token-ttl', '120', '--upload-max-csv', '1000', '--upload-max-excel', '2000'],
    env: { BELLHOP_POLL_TIMEOUT_S: '1', BELLHOP_POLL_MAX_TIMEOUT_S: '2' },
  });
});
after(async () => {
  await closeUploads();
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

test('BELLHOP_POLL_MAX_TIMEOUT_S caps the timeout a poll may ask for: over it is 400 invalid_field', async () => {
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const over = await srv.fetch('/v1/realtime/finance/poll?timeout=3', { token });
  assert.equal(over.status, 400);
  const err = (await over.json()).error;
  assert.equal(err.code, 'invalid_field');
  assert.match(err.message, /timeout: an integer from 0 to 2/);
  const t0 = Date.now();
  const at = await srv.fetch('/v1/realtime/finance/poll?timeout=2', { token });
  assert.equal(at.status, 200);
  assert.deepEqual((await at.json()).events, []);
  const waited = Date.now() - t0;
  assert.ok(waited >= 1900 && waited < 6000, `waited ${waited} ms, expected about 2 s`);
});

test('BELLHOP_UPLOAD_MAX_CSV and BELLHOP_UPLOAD_MAX_EXCEL: a start over the type\'s limit is too_large; at the limit it is ready', async () => {
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const guest = await checkinGuest(srv, token);
  const c = await openUpload(srv, { token });
  const csv = { documentType: 'csv', fileName: 'rooms.csv', mimeType: 'text/csv' };
  const xlsx = { documentType: 'excel', fileName: 'rates.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' };
  for (const [extra, limit] of [[csv, 1000], [xlsx, 2000]]) {
    const over = await c.request(startMsg(guest, { length: limit + 1 }, extra));
    assert.equal(over.type, 'error', JSON.stringify(over));
    assert.equal(over.code, 'too_large');
    assert.match(over.message, new RegExp(`${limit} byte limit`));
    const c2 = await openUpload(srv, { token });
    const ok = await c2.request(startMsg(guest, { length: limit }, extra));
    assert.equal(ok.type, 'ready', JSON.stringify(ok));
    await c2.close();
  }
});
