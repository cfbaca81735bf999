// POST /auth/login, GET /auth/me and JWT verification, against a --demo server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startServer, bellhop } from './support/server.mjs';

const DEMO_PW = 'bellhop-demo';
let srv;
let secret;

before(async () => {
  // This file logs in far more often than the default per-address login rate allows; the rate
  // itself is tested below on a server of its own.
  srv = await startServer({ args: ['--demo', '--login-burst', '1000'] });
  // The dev secret: a hex string used as-is (its ASCII bytes) as the HMAC key.
  secret = readFileSync(`${srv.dataDir}/jwt_secret`, 'utf8').trim();
});
after(async () => { await srv.stop(); });

const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function sign(payload, { header = { alg: 'HS256', typ: 'JWT' }, key = secret, hash = 'sha256' } = {}) {
  const signing = `${b64u(header)}.${b64u(payload)}`;
  return `${signing}.${createHmac(hash, key).update(signing).digest('base64url')}`;
}
const claims = (extra = {}) => ({ sub: 1, orgId: 1, role: 'owner', name: 'T', iat: now(), exp: now() + 600, ...extra });

async function json(res) {
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  return res.json();
}
async function expectError(res, status, code) {
  assert.equal(res.status, status);
  const body = await json(res);
  assert.equal(body.error?.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  return body;
}
const login = (email, password) => srv.fetch('/auth/login', { method: 'POST', json: { email, password } });
const me = (token) => srv.fetch('/auth/me', { token });

// ---------------------------------------------------------------- login

test('login succeeds for the demo owner and returns a usable bearer token', async () => {
  const res = await login('owner@demo.bellhop.dev', DEMO_PW);
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.tokenType, 'Bearer');
  assert.equal(body.expiresIn, 86400);
  assert.match(body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.deepEqual(Object.keys(body.user).sort(), ['email', 'id', 'name', 'orgId', 'propertyIds', 'role']);
  assert.equal(body.user.orgId, 1);
  assert.equal(body.user.email, 'owner@demo.bellhop.dev');
  assert.equal(body.user.role, 'owner');
  assert.equal(body.user.propertyIds, null);
  assert.equal(typeof body.user.id, 'number');
  assert.ok(body.user.name.length > 0);

  const m = await me(body.token);
  assert.equal(m.status, 200);
  const mb = await json(m);
  assert.equal(mb.claims.sub, body.user.id);
  assert.equal(mb.claims.orgId, 1);
  assert.equal(mb.claims.role, 'owner');
  assert.ok(!('propertyIds' in mb.claims), 'an all-properties token carries no propertyIds claim');
  assert.ok(mb.claims.exp >= now() + 86400 - 120 && mb.claims.exp <= now() + 86400 + 5);
  assert.deepEqual(mb.user, body.user);
});

test('login email lookup is case-insensitive', async () => {
  const res = await login('Owner@DEMO.Bellhop.dev', DEMO_PW);
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.user.email, 'owner@demo.bellhop.dev');
});

test('login returns the property scope of scoped users, and their tokens carry it', async () => {
  const res = await login('manager@demo.bellhop.dev', DEMO_PW);
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.user.role, 'manager');
  assert.deepEqual(body.user.propertyIds, [1, 2]);
  const mb = await json(await me(body.token));
  assert.deepEqual(mb.claims.propertyIds, [1, 2]);
  assert.equal(mb.claims.role, 'manager');

  const s = await login('staff@demo.bellhop.dev', DEMO_PW);
  assert.equal(s.status, 200);
  const sb = await json(s);
  assert.equal(sb.user.role, 'staff');
  assert.deepEqual(sb.user.propertyIds, [2]);
});

test('wrong password and unknown email give the same 401 invalid_credentials', async () => {
  const a = await expectError(await login('owner@demo.bellhop.dev', 'wrong-password'), 401, 'invalid_credentials');
  const b = await expectError(await login('nobody@demo.bellhop.dev', DEMO_PW), 401, 'invalid_credentials');
  assert.equal(a.error.message, b.error.message);
});

test('login requires Content-Type application/json (415)', async () => {
  const body = JSON.stringify({ email: 'owner@demo.bellhop.dev', password: DEMO_PW });
  await expectError(await srv.fetch('/auth/login', { method: 'POST', body, headers: { 'content-type': 'text/plain' } }),
    415, 'unsupported_media_type');
  await expectError(await srv.fetch('/auth/login', { method: 'POST', body: Buffer.from(body) }),
    415, 'unsupported_media_type');
});

test('malformed JSON and non-object JSON give 400 invalid_json', async () => {
  for (const body of ['{"email":', 'not json', '[1,2]', '42', '"str"', 'null', '']) {
    const res = await srv.fetch('/auth/login', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await expectError(res, 400, 'invalid_json');
  }
});

test('missing or empty email/password give 400 invalid_field', async () => {
  for (const j of [
    {}, { email: 'owner@demo.bellhop.dev' }, { password: DEMO_PW },
    { email: '', password: DEMO_PW }, { email: 'owner@demo.bellhop.dev', password: '' },
    { email: 42, password: DEMO_PW }, { email: 'owner@demo.bellhop.dev', password: null },
  ]) {
    await expectError(await srv.fetch('/auth/login', { method: 'POST', json: j }), 400, 'invalid_field');
  }
});

test('a user created with `bellhop user add` can log in; duplicates, unknown org and bad role fail', async () => {
  const email = 'cli.user@example.test';
  const env = { BELLHOP_PASSWORD: 'cli-password-123' };
  const add = (args, e = env) => bellhop(['user', 'add', ...args], { dataDir: srv.dataDir, env: e });
  add(['--org', '1', '--email', email, '--name', 'Cli User', '--role', 'front_desk', '--properties', '2']);

  const res = await login(email.toUpperCase(), 'cli-password-123');
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.user.email, email);
  assert.equal(body.user.name, 'Cli User');
  assert.equal(body.user.role, 'front_desk');
  assert.deepEqual(body.user.propertyIds, [2]);
  await expectError(await login(email, 'cli-password-124'), 401, 'invalid_credentials');

  const status = (args, e = env) => {
    try { add(args, e); return 0; } catch (err) { return err.status; }
  };
  assert.equal(status(['--org', '1', '--email', email, '--name', 'Again', '--role', 'staff']), 1, 'duplicate email');
  assert.equal(status(['--org', '999', '--email', 'x@example.test', '--name', 'X', '--role', 'staff']), 1, 'unknown org');
  assert.equal(status(['--org', '1', '--email', 'y@example.test', '--name', 'Y', '--role', 'emperor']), 2, 'bad role');
  assert.notEqual(status(['--org', '1', '--email', 'z@example.test', '--name', 'Z', '--role', 'staff'],
    { BELLHOP_PASSWORD: 'short' }), 0, 'password under 8 chars');
  // None of the refused users exist.
  for (const e of ['x@example.test', 'y@example.test', 'z@example.test']) {
    await expectError(await login(e, 'cli-password-123'), 401, 'invalid_credentials');
  }
});

// ---------------------------------------------------------------- /auth/me

test('/auth/me echoes the claims of a CLI token, with propertyIds only when scoped', async () => {
  const t = srv.token({ org: 1, user: 3, role: 'manager', properties: [1, 2], name: 'Script' });
  const res = await me(t);
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.claims.sub, 3);
  assert.equal(body.claims.orgId, 1);
  assert.equal(body.claims.role, 'manager');
  assert.equal(body.claims.name, 'Script');
  assert.deepEqual(body.claims.propertyIds, [1, 2]);
  assert.equal(typeof body.claims.exp, 'number');
  assert.equal(body.user.id, 3);

  const all = await json(await me(srv.token({ org: 1, user: 1, role: 'owner' })));
  assert.ok(!('propertyIds' in all.claims));
  assert.equal(all.user.id, 1);
});

test('/auth/me answers user null for a token whose user does not exist', async () => {
  const res = await me(srv.token({ org: 1, user: 999, role: 'service' }));
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.claims.sub, 999);
  assert.equal(body.claims.role, 'service');
  assert.equal(body.user, null);
});

test('/auth/me without credentials: 401 unauthorized with WWW-Authenticate: Bearer', async () => {
  for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
    const res = await srv.fetch('/auth/me', { headers });
    await expectError(res, 401, 'unauthorized');
    assert.match(res.headers.get('www-authenticate') || '', /^Bearer\b/);
  }
});

test('a token crafted with the data-dir secret is accepted (control for the tests below)', async () => {
  const res = await me(sign(claims({ name: 'Crafted' })));
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.claims.name, 'Crafted');
});

test('an expired token gives 401 token_expired', async () => {
  const res = await me(sign(claims({ iat: now() - 3600, exp: now() - 120 })));
  await expectError(res, 401, 'token_expired');
  assert.match(res.headers.get('www-authenticate') || '', /^Bearer\b/);
});

test('a token with nbf far in the future gives 401 token_not_yet_valid', async () => {
  await expectError(await me(sign(claims({ nbf: now() + 3600, exp: now() + 7200 }))), 401, 'token_not_yet_valid');
});

test('a token without exp is refused', async () => {
  const c = claims();
  delete c.exp;
  await expectError(await me(sign(c)), 401, 'invalid_token');
});

test('tampered payload or signature gives 401 invalid_token', async () => {
  const good = sign(claims());
  const [h, p, s] = good.split('.');
  const forged = b64u(claims({ role: 'owner', sub: 2, orgId: 2 }));
  await expectError(await me(`${h}.${forged}.${s}`), 401, 'invalid_token');
  const flip = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  await expectError(await me(`${h}.${p}.${flip}`), 401, 'invalid_token');
  await expectError(await me(`${h}.${p}.`), 401, 'invalid_token');
  await expectError(await me(`${h}.${p}`), 401, 'invalid_token');
  await expectError(await me('garbage'), 401, 'invalid_token');
});

test('alg:none tokens are refused, with or without a signature', async () => {
  const h = b64u({ alg: 'none', typ: 'JWT' });
  const p = b64u(claims());
  await expectError(await me(`${h}.${p}.`), 401, 'invalid_token');
  await expectError(await me(`${h}.${p}`), 401, 'invalid_token');
  const sig = sign(claims()).split('.')[2];
  await expectError(await me(`${h}.${p}.${sig}`), 401, 'invalid_token');
  // Even with a signature valid for the alg:none header bytes.
  await expectError(await me(sign(claims(), { header: { alg: 'none', typ: 'JWT' } })), 401, 'invalid_token');
});

test('an HS512-signed token is refused', async () => {
  const res = await me(sign(claims(), { header: { alg: 'HS512', typ: 'JWT' }, hash: 'sha512' }));
  await expectError(res, 401, 'invalid_token');
});

test('a token signed with another secret is refused', async () => {
  await expectError(await me(sign(claims(), { key: 'f'.repeat(64) })), 401, 'invalid_token');
  // The secret is the ASCII hex string, not its decoded bytes.
  await expectError(await me(sign(claims(), { key: Buffer.from(secret, 'hex') })), 401, 'invalid_token');
});

test('login rate per address: well-formed attempts beyond the burst get 429 too_many_logins with Retry-After; malformed ones do not count', async () => {
  const s = await startServer({ args: ['--demo', '--login-rate', '1', '--login-burst', '3'] });
  try {
    const login = (body) => s.fetch('/auth/login', { method: 'POST', json: body });
    // Malformed bodies are refused before the limit and cost nothing.
    for (let i = 0; i < 5; i++) assert.equal((await login({ email: '' })).status, 400);
    assert.equal((await login({ email: 'owner@demo.bellhop.dev', password: 'wrong-password' })).status, 401);
    assert.equal((await login({ email: 'nobody@example.com', password: 'x' })).status, 401);
    assert.equal((await login({ email: 'owner@demo.bellhop.dev', password: DEMO_PW })).status, 200);
    const res = await login({ email: 'owner@demo.bellhop.dev', password: DEMO_PW });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get('retry-after')) >= 1, res.headers.get('retry-after'));
    const body = await res.json();
    assert.equal(body.error.code, 'too_many_logins');
    const m = await (await s.fetch('/metrics')).text();
    assert.match(m, /bellhop_limit_refusals_total\{limit="login_rate"\} 1\n/);
  } finally {
    await s.stop();
  }
});
