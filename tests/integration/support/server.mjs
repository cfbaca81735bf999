// Starts the real bellhop binary on a free port with a fresh data dir, for black-box tests.
//
//   const srv = await startServer();            // waits for the "listening" log line
//   const res = await srv.fetch('/health');
//   const token = srv.token({ org: 1, user: 1, role: 'owner' });
//   await srv.stop();                           // SIGTERM; asserts a clean exit, no sanitizer report
//
// BELLHOP_BIN names the binary (the Makefile sets it; build/bellhop by default).
// BELLHOP_TEST_PG (postgres://user@host:port, set by `make test` through
// scripts/test-postgres.sh) runs every server and sub-command against PostgreSQL instead of
// SQLite: each data dir gets a database of its own (created on first use, dropped with the dir),
// so a server restarted on the same data dir finds its data again.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../../..');
export const BIN = process.env.BELLHOP_BIN || join(ROOT, 'build/bellhop');
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

/** The store backend the tests run against: 'postgres' when BELLHOP_TEST_PG is set. */
export const BACKEND = process.env.BELLHOP_TEST_PG ? 'postgres' : 'sqlite';

function psql(sql) {
  execFileSync('psql', [`${process.env.BELLHOP_TEST_PG}/postgres`, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const pgDatabases = new Set();
/** The database url for dataDir under BELLHOP_TEST_PG (creating the database once), else null. */
export function testDatabaseUrl(dataDir) {
  if (!process.env.BELLHOP_TEST_PG || !dataDir) return null;
  // A name derived from the path: the same dir always maps to the same database. Hex only, so it
  // is a safe identifier.
  const name = `bh_${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 24)}`;
  if (!pgDatabases.has(name)) {
    try {
      psql(`CREATE DATABASE ${name}`);
    } catch (e) {
      if (!/already exists/.test(String(e.stderr))) throw e;
    }
    pgDatabases.add(name);
  }
  return `${process.env.BELLHOP_TEST_PG}/${name}`;
}

function dropTestDatabase(dataDir) {
  const url = testDatabaseUrl(dataDir);
  if (!url) return;
  const name = url.slice(url.lastIndexOf('/') + 1);
  pgDatabases.delete(name);
  psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Env for a bellhop process on dataDir: the test database, unless env names one itself. */
function dbEnv(dataDir, env) {
  const url = env.BELLHOP_DATABASE_URL === undefined ? testDatabaseUrl(dataDir) : null;
  return url ? { BELLHOP_DATABASE_URL: url } : {};
}

/** For tests that spawn bellhop themselves: { BELLHOP_DATABASE_URL } of dataDir, or {} on SQLite. */
export function storeEnv(dataDir) {
  return dbEnv(dataDir, {});
}

/** Runs sql against dataDir's store from another process (sqlite3 or psql), as an admin would.
 * Write it in the SQL both accept (e.g. INSERT ... ON CONFLICT ... DO UPDATE). */
export function storeSql(dataDir, sql) {
  if (BACKEND === 'sqlite') {
    execFileSync('sqlite3', [join(dataDir, 'bellhop.db'), sql], { stdio: ['ignore', 'pipe', 'pipe'] });
  } else {
    execFileSync('psql', [testDatabaseUrl(dataDir), '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql],
      { stdio: ['ignore', 'pipe', 'pipe'] });
  }
}

/** PostgreSQL only: another session holds an EXCLUSIVE lock on every table of dataDir's database
 * (reads go on, writes wait), like `BEGIN EXCLUSIVE` in the sqlite3 shell, until release(). */
export async function lockStore(dataDir) {
  const p = spawn('psql', [testDatabaseUrl(dataDir), '-qAtX', '-v', 'ON_ERROR_STOP=1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((res) => p.once('exit', res));
  p.stdin.write("BEGIN;\nSELECT string_agg(format('%I', tablename), ', ') AS tables FROM pg_tables " +
    "WHERE schemaname = 'public' \\gset\nLOCK TABLE :tables IN EXCLUSIVE MODE;\nSELECT 'locked';\n");
  await waitFor(() => /locked/.test(out), { timeout: 10000, what: 'the exclusive lock' });
  return { release: async () => { p.stdin.write('COMMIT;\n\\q\n'); p.stdin.end(); await exited; } };
}

/** Waits until pred() is truthy, polling every `every` ms, failing after `timeout` ms. */
export async function waitFor(pred, { timeout = 5000, every = 10, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Runs a bellhop sub-command synchronously and returns its stdout (throws on non-zero exit). */
export function bellhop(args, { env = {}, dataDir, input } = {}) {
  const full = dataDir ? [...args, '--data-dir', dataDir] : args;
  return execFileSync(BIN, full, {
    env: { ...process.env, BELLHOP_LOG_LEVEL: 'warn', ...dbEnv(dataDir, env), ...env },
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export async function startServer({ env = {}, args = [], dataDir, workers = 2 } = {}) {
  const ownDir = !dataDir;
  dataDir = dataDir || mkdtempSync(join(tmpdir(), 'bellhop-test-'));
  const child = spawn(
    BIN,
    ['serve', '--bind', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--workers', String(workers),
     '--web-dir', join(ROOT, 'web'), ...args],
    {
      env: { ...process.env, BELLHOP_LOG_LEVEL: 'info', ASAN_OPTIONS: 'detect_leaks=1', ...dbEnv(dataDir, env), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  let exit = null;
  exited.then((e) => { exit = e; });

  const port = await waitFor(() => {
    if (exit) throw new Error(`bellhop exited early (${JSON.stringify(exit)}):\n${stderr}`);
    const m = /msg=listening .*port=(\d+)/.exec(stderr);
    return m && Number(m[1]);
  }, { timeout: 15000, what: 'the listening log line' });

  const base = `http://127.0.0.1:${port}`;
  const srv = {
    port,
    base,
    dataDir,
    child,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    /** fetch() relative to the server; JSON bodies (objects) are sent as application/json. */
    async fetch(path, opts = {}) {
      const o = { ...opts, headers: { ...(opts.headers || {}) } };
      if (o.token) { o.headers.authorization = `Bearer ${o.token}`; delete o.token; }
      if (o.json !== undefined) {
        o.body = JSON.stringify(o.json);
        o.headers['content-type'] = 'application/json';
        delete o.json;
      }
      return fetch(base + path, o);
    },
    /** A token from `bellhop token` with the same data dir (so the same secret). */
    token({ org = 1, user = 1, role = 'owner', properties, name, ttl } = {}) {
      const a = ['token', '--org', String(org), '--user', String(user), '--role', role];
      if (properties) a.push('--properties', properties.join(','));
      if (name) a.push('--name', name);
      if (ttl) a.push('--ttl', String(ttl));
      return bellhop(a, { dataDir, env }).trim();
    },
    /** Sends SIGTERM and waits; asserts a clean exit and no sanitizer report. */
    async stop({ keepData = false } = {}) {
      if (!exit) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exited;
        clearTimeout(t);
      }
      if (ownDir && !keepData) {
        rmSync(dataDir, { recursive: true, force: true });
        dropTestDatabase(dataDir);
      }
      if (SANITIZER_RE.test(stderr)) throw new Error(`sanitizer report:\n${stderr.slice(-8000)}`);
      if (exit.code !== 0) throw new Error(`bellhop exited with ${JSON.stringify(exit)}:\n${stderr.slice(-4000)}`);
    },
    /** SIGKILL, for crash tests: no exit checks. */
    async kill() {
      if (!exit) { child.kill('SIGKILL'); await exited; }
    },
  };
  return srv;
}

/** A raw TCP connection for tests that must send exact bytes (pipelining, slow headers, ...). */
/** True when the server on port has read every byte its peers sent: each established socket of
 * that local port has an empty receive queue (Linux /proc/net/tcp). Lets a test signal the
 * server only once a request it wrote is in the server's hands, not in the kernel's. */
export function serverHasRead(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const col = line.trim().split(/\s+/);
      if (col.length < 5 || col[3] !== '01' || !col[1].endsWith(`:${hex}`)) continue;
      if (parseInt(col[4].split(':')[1], 16) !== 0) return false;
    }
  }
  return true;
}

export function rawConnect(port) {
  return new Promise((res, rej) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    let ended = false;
    s.setEncoding('latin1');
    s.on('data', (d) => { data += d; });
    s.on('end', () => { ended = true; });
    s.on('close', () => { ended = true; });
    s.on('error', () => { ended = true; });
    s.on('connect', () => res({
      socket: s,
      write: (b) => s.write(b),
      get data() { return data; },
      get ended() { return ended; },
      /** Waits until the received bytes match re (or the peer closes). */
      waitData: (re, timeout = 5000) => waitFor(() => re.test(data) && data, { timeout, what: `data matching ${re}` }),
      waitEnd: (timeout = 5000) => waitFor(() => ended, { timeout, what: 'the connection to close' }),
      close: () => s.destroy(),
    }));
    s.on('error', rej);
  });
}
