// Multi-node tests: a real redis-server (Debian's package, installed by the Makefile) on a free
// loopback port, and several bellhop nodes sharing it, one data dir (one SQLite file, one secret,
// one upload directory) and one key prefix.
//
//   const redis = await startRedis();                  // its own dir, AOF on, killed at stop()
//   const nodes = await startCluster(3, { redis });    // waits for every node's "listening" line
//   await redis.restart();                             // SIGKILL + start on the same port and data
//   await stopCluster(nodes); await redis.stop();
//
// If redis-server is missing (it never is under `make test`: the Makefile installs it), tests
// call skipWithoutRedis(t), which skips with the reason instead of failing on ENOENT.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { startServer, waitFor } from './server.mjs';

const REDIS_BIN = process.env.REDIS_SERVER || 'redis-server';

export function redisAvailable() {
  const r = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Skips the test (with the reason) when redis-server cannot run here. */
export function skipWithoutRedis(t) {
  if (redisAvailable()) return false;
  t.skip(`${REDIS_BIN} not installed (make test installs the redis-server package)`);
  return true;
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/** One RESP command over a fresh connection (for checks and set-up; not on any hot path). */
export function redisCommand(port, ...args) {
  return new Promise((res, rej) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('error', rej);
    s.on('data', (d) => {
      buf += d;
      if (buf.endsWith('\r\n')) { s.end(); res(buf); }
    });
    s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
  });
}

/** Starts redis-server on a free port (AOF with fsync always, so a restart keeps every
 * acknowledged event). */
export async function startRedis({ port } = {}) {
  port = port || await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bellhop-redis-'));
  const r = {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    child: null,
    log: '',
    async start() {
      const child = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
        '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
      child.stdout.on('data', (d) => { this.log += d; });
      child.stderr.on('data', (d) => { this.log += d; });
      this.exited = new Promise((res) => child.on('exit', res));
      await waitFor(async () => {
        try { return (await redisCommand(port, 'PING')).startsWith('+PONG'); } catch { return false; }
      }, { timeout: 10000, what: `redis-server on port ${port}\n${this.log}` });
    },
    async kill() {
      if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    },
    async restart() {
      await this.kill();
      await this.start();
    },
    async stop() {
      await this.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}

let prefixes = 0;

/** Starts n nodes on one Redis and one data dir. Returns the nodes (startServer objects). */
export async function startCluster(n, { redis, env = {}, workers = 2, prefix, demo = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'bellhop-cluster-'));
  prefix = prefix || `t${process.pid}x${++prefixes}`;
  const nodeEnv = { BELLHOP_REDIS_URL: redis.url, BELLHOP_REDIS_PREFIX: prefix, ...env };
  // The first node creates the store (migrations; the demo organisation with demo: true); the
  // others open it afterwards.
  const first = await startServer({ dataDir, workers, args: demo ? ['--demo'] : [], env: { ...nodeEnv, BELLHOP_NODE: 'a' } });
  const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) =>
    startServer({ dataDir, workers, env: { ...nodeEnv, BELLHOP_NODE: String.fromCharCode(98 + i) } })));
  const nodes = [first, ...rest];
  nodes.dataDir = dataDir;
  nodes.prefix = prefix;
  nodes.env = nodeEnv;
  return nodes;
}

/** Starts one more node of the same cluster (after a crash, say). */
export function startNode(nodes, { workers = 2 } = {}) {
  return startServer({ dataDir: nodes.dataDir, workers, env: nodes.env });
}

export async function stopCluster(nodes) {
  if (!nodes) return;
  await Promise.all(nodes.map((n) => n.stop({ keepData: true })));
  rmSync(nodes.dataDir, { recursive: true, force: true });
}

/** GET /health as JSON (any status). */
export async function health(node) {
  const res = await node.fetch('/health');
  return { status: res.status, body: await res.json() };
}

/** Publishes through node; retries 503 (the broker is down) until acknowledged or the deadline. */
export async function publishRetrying(node, token, body, { timeout = 20000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    let res;
    try {
      res = await node.fetch('/v2/realtime/publish', { method: 'POST', token,
        json: { orgId: 1, type: 'revenue_created', service: 'finance', data: {}, ...body } });
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    const text = await res.text();
    if (res.status === 201) return JSON.parse(text);
    if (res.status !== 503 || Date.now() > end) throw new Error(`publish -> ${res.status} ${text}`);
    const err = JSON.parse(text).error;
    if (err.code !== 'broker_unavailable') throw new Error(`publish -> 503 ${text}`);
    await new Promise((r) => setTimeout(r, 50)); // the answer said "retry": back off a little
  }
}

/** A TCP proxy to Redis that a test can cut (every connection dropped, new ones refused) and
 * restore: one node loses Redis while the others keep it. */
export async function startProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  let server = null;
  const p = {
    port,
    url: `redis://127.0.0.1:${port}`,
    listen() {
      return new Promise((res, rej) => {
        server = net.createServer((c) => {
          const r = net.connect(targetPort, '127.0.0.1');
          sockets.add(c);
          sockets.add(r);
          const drop = () => { c.destroy(); r.destroy(); sockets.delete(c); sockets.delete(r); };
          c.on('error', drop);
          r.on('error', drop);
          c.on('close', drop);
          r.on('close', drop);
          c.pipe(r);
          r.pipe(c);
        });
        server.on('error', rej);
        server.listen(port, '127.0.0.1', res);
      });
    },
    async cut() {
      await new Promise((res) => { server.close(res); for (const s of sockets) s.destroy(); sockets.clear(); });
    },
    restore() { return this.listen(); },
    async stop() { await this.cut(); },
  };
  await p.listen();
  return p;
}
