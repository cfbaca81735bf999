// The command line: --help, config validation, migrate, token, and the JWT secret handling.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, BACKEND, bellhop, startServer, testDatabaseUrl } from './support/server.mjs';

const dirs = [];
function tmpDir() {
  const d = mkdtempSync(join(tmpdir(), 'bellhop-cli-'));
  dirs.push(d);
  return d;
}
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Runs bellhop without a shell; never hangs (a server that wrongly starts is killed after 5 s). */
function run(args, env = {}) {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('BELLHOP_')) delete base[k];
  // Under BELLHOP_TEST_PG the data dir's own database (see support/server.mjs).
  const d = args.indexOf('--data-dir');
  const db = d >= 0 ? testDatabaseUrl(args[d + 1]) : null;
  if (db) base.BELLHOP_DATABASE_URL = db;
  const r = spawnSync(BIN, args, {
    env: { ...base, BELLHOP_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 5000,
    killSignal: 'SIGKILL',
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const b64u = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');
function sign(payload, key) {
  const s = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u(payload)}`;
  return `${s}.${createHmac('sha256', key).update(s).digest('base64url')}`;
}
const decode = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

test('--help exits 0 and lists every BELLHOP_* variable', () => {
  const r = run(['--help']);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout + r.stderr;
  for (const v of ['BELLHOP_PORT', 'BELLHOP_BIND', 'BELLHOP_DATA_DIR', 'BELLHOP_DATABASE_URL',
    'BELLHOP_JWT_SECRET', 'BELLHOP_LOG_LEVEL', 'BELLHOP_WORKERS', 'BELLHOP_MAX_BODY',
    'BELLHOP_HEADER_TIMEOUT_MS', 'BELLHOP_BODY_TIMEOUT_MS', 'BELLHOP_IDLE_TIMEOUT_MS',
    'BELLHOP_MAX_HEADER_SIZE', 'BELLHOP_MAX_HEADERS', 'BELLHOP_ALLOWED_ORIGINS', 'BELLHOP_ENV']) {
    assert.ok(out.includes(v), `--help does not mention ${v}`);
  }
});

test('a bad config value exits 2 and names the variable (the server does not start)', () => {
  const d = tmpDir();
  for (const [k, v] of [['BELLHOP_PORT', 'abc'], ['BELLHOP_PORT', '70000'], ['BELLHOP_WORKERS', '-1'],
    ['BELLHOP_MAX_BODY', '12kb'], ['BELLHOP_HEADER_TIMEOUT_MS', '']]) {
    const r = run(['serve', '--bind', '127.0.0.1', '--data-dir', d], { [k]: v });
    assert.equal(r.status, 2, `${k}=${v}: status ${r.status} signal ${r.signal}\n${r.stderr}`);
    assert.ok(r.stderr.includes(k), `${k}=${v}: stderr does not name the variable: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /msg=listening/);
  }
  const r = run(['serve', '--port', 'abc', '--data-dir', d]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /port/);
});

test('migrate is idempotent', () => {
  const d = tmpDir();
  const a = run(['migrate', '--data-dir', d]);
  assert.equal(a.status, 0, a.stderr);
  if (BACKEND === 'sqlite') assert.ok(existsSync(join(d, 'bellhop.db')));
  const b = run(['migrate', '--data-dir', d]);
  assert.equal(b.status, 0, b.stderr);
});

test('token prints only a JWT with the requested claims; the dev secret file is mode 0600', () => {
  const d = tmpDir();
  const r = run(['token', '--org', '7', '--user', '42', '--role', 'manager', '--properties', '3,5',
    '--name', 'Night Audit', '--ttl', '120', '--data-dir', d]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n?$/);
  const c = decode(r.stdout.trim());
  assert.equal(c.sub, 42);
  assert.equal(c.orgId, 7);
  assert.equal(c.role, 'manager');
  assert.equal(c.name, 'Night Audit');
  assert.deepEqual(c.propertyIds, [3, 5]);
  const t = Math.floor(Date.now() / 1000);
  assert.ok(Math.abs(c.exp - (t + 120)) <= 5, `exp ${c.exp} vs now+120 ${t + 120}`);

  const st = statSync(join(d, 'jwt_secret'));
  assert.equal(st.mode & 0o777, 0o600);
  const secret = readFileSync(join(d, 'jwt_secret'), 'utf8');
  assert.ok(secret.trim().length >= 32);
  // A second run reuses the same secret.
  assert.equal(run(['token', '--org', '1', '--user', '1', '--role', 'owner', '--data-dir', d]).status, 0);
  assert.equal(readFileSync(join(d, 'jwt_secret'), 'utf8'), secret);
});

test('token with a bad role exits 2 and prints no token', () => {
  const r = run(['token', '--org', '1', '--user', '1', '--role', 'emperor', '--data-dir', tmpDir()]);
  assert.equal(r.status, 2);
  assert.doesNotMatch(r.stdout, /eyJ/);
});

test('serve and token sharing a data dir agree on the generated secret', async () => {
  const d = tmpDir();
  // The token command creates the secret first; the server must pick up the same one.
  const early = bellhop(['token', '--org', '1', '--user', '5', '--role', 'staff'], { dataDir: d }).trim();
  const secret = readFileSync(join(d, 'jwt_secret'), 'utf8');
  const srv = await startServer({ dataDir: d });
  try {
    let res = await srv.fetch('/auth/me', { token: early });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).claims.sub, 5);
    // And a token minted while the server runs.
    res = await srv.fetch('/auth/me', { token: srv.token({ org: 1, user: 6, role: 'finance' }) });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).claims.role, 'finance');
    assert.equal(readFileSync(join(d, 'jwt_secret'), 'utf8'), secret, 'the server replaced the secret');
    assert.equal(statSync(join(d, 'jwt_secret')).mode & 0o777, 0o600);
  } finally {
    await srv.stop();
  }
});

test('production without BELLHOP_JWT_SECRET refuses to start and says why', () => {
  const d = tmpDir();
  const r = run(['serve', '--bind', '127.0.0.1', '--port', '0', '--data-dir', d], { BELLHOP_ENV: 'production' });
  assert.equal(r.signal, null, 'the server started instead of exiting');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /BELLHOP_JWT_SECRET/);
  assert.doesNotMatch(r.stderr, /msg=listening/);
  assert.ok(!existsSync(join(d, 'jwt_secret')), 'production must not generate a dev secret');
});

test('a BELLHOP_JWT_SECRET shorter than 32 bytes is an error', () => {
  const d = tmpDir();
  const short = 'x'.repeat(31);
  for (const env of [{ BELLHOP_ENV: 'production', BELLHOP_JWT_SECRET: short }, { BELLHOP_JWT_SECRET: short }]) {
    const r = run(['serve', '--bind', '127.0.0.1', '--port', '0', '--data-dir', d], env);
    assert.equal(r.signal, null, 'the server started with a short secret');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /BELLHOP_JWT_SECRET/);
  }
  const t = run(['token', '--org', '1', '--user', '1', '--role', 'owner', '--data-dir', d], { BELLHOP_JWT_SECRET: short });
  assert.notEqual(t.status, 0);
  assert.doesNotMatch(t.stdout, /eyJ/);
});

test('with BELLHOP_JWT_SECRET set, tokens signed with it are accepted and others are not', async () => {
  const key = 'production-secret-0123456789abcdef-XYZ';
  const env = { BELLHOP_ENV: 'production', BELLHOP_JWT_SECRET: key };
  const srv = await startServer({ env });
  try {
    const t = Math.floor(Date.now() / 1000);
    const payload = { sub: 9, orgId: 3, role: 'admin', iat: t, exp: t + 300 };
    let res = await srv.fetch('/auth/me', { token: sign(payload, key) });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.claims.sub, 9);
    assert.equal(body.claims.orgId, 3);

    res = await srv.fetch('/auth/me', { token: srv.token({ org: 3, user: 9, role: 'admin' }) });
    assert.equal(res.status, 200, '`bellhop token` with the same BELLHOP_JWT_SECRET');

    res = await srv.fetch('/auth/me', { token: sign(payload, `${key}-other`) });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'invalid_token');
  } finally {
    await srv.stop();
  }
});
