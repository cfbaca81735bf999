// Helpers for the monitoring and deployment tests: Debian's Prometheus and nginx started on free
// loopback ports, the Prometheus text format parsed, command-line tools run.
//
//   const prom = await startPrometheus([srvA, srvB]);      // scrapes both every second
//   const v = await prom.value('sum(bellhop_stream_connections)');   // a number, or null
//   await prom.stop();
//   const fams = parseExposition(await (await srv.fetch('/metrics')).text());
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { waitFor } from './server.mjs';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Runs a tool to completion: { status, stdout, stderr }. */
export function run(cmd, args, { input, timeout = 30000 } = {}) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A child process whose output is kept, with a bounded stop (SIGTERM, then SIGKILL). */
function supervise(cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  let exit = null;
  const exited = new Promise((res) => child.on('exit', (code, signal) => { exit = { code, signal }; res(exit); }));
  return {
    child,
    get output() { return out; },
    get exit() { return exit; },
    async stop() {
      if (exit) return exit;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(t);
      return exit;
    },
  };
}

/**
 * Starts `prometheus` scraping the given bellhop servers every second, with its own storage in a
 * temporary directory; resolves once /-/ready answers.
 */
export async function startPrometheus(servers, { interval = '1s' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bellhop-prom-'));
  const port = await freePort();
  const targets = servers.map((s) => `'127.0.0.1:${s.port}'`).join(', ');
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, [
    'global:',
    `  scrape_interval: ${interval}`,
    `  evaluation_interval: ${interval}`,
    'scrape_configs:',
    '  - job_name: bellhop',
    '    static_configs:',
    `      - targets: [${targets}]`,
    '',
  ].join('\n'));
  const p = supervise('prometheus', [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (p.exit) throw new Error(`prometheus exited (${JSON.stringify(p.exit)}):\n${p.output}`);
      try { return (await fetch(`${base}/-/ready`)).status === 200; } catch { return false; }
    }, { timeout: 30000, every: 100, what: 'prometheus to be ready' });
  } catch (err) {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const prom = {
    port,
    base,
    get output() { return p.output; },
    /** GET /api/v1/query; asserts status "success" and returns data. */
    async query(expr) {
      const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json();
      assert.equal(body.status, 'success', `${expr}: ${JSON.stringify(body)}`);
      return body.data;
    },
    /** The value of a one-element instant vector (or a scalar) as a number; null when empty. */
    async value(expr) {
      const d = await prom.query(expr);
      if (d.resultType === 'scalar') return Number(d.result[1]);
      assert.equal(d.resultType, 'vector', expr);
      if (d.result.length === 0) return null;
      assert.equal(d.result.length, 1, `${expr}: ${JSON.stringify(d.result)}`);
      return Number(d.result[0].value[1]);
    },
    async stop() {
      await p.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return prom;
}

/**
 * Starts nginx in the foreground with the configuration text given (already pointing at
 * temporary paths), after `nginx -t` accepted it. Resolves once it accepts connections on port.
 */
export async function startNginx(conf, dir, port) {
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const t = run('nginx', ['-t', '-e', join(dir, 'error.log'), '-c', file]);
  assert.equal(t.status, 0, `nginx -t:\n${t.stderr}`);
  assert.match(t.stderr, /test is successful/);
  const p = supervise('nginx', ['-e', join(dir, 'error.log'), '-c', file, '-g', 'daemon off;']);
  await waitFor(() => new Promise((resolve) => {
    if (p.exit) throw new Error(`nginx exited (${JSON.stringify(p.exit)}):\n${p.output}`);
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  }), { timeout: 10000, every: 50, what: 'nginx to listen' });
  return { test: t, stop: () => p.stop(), get output() { return p.output; } };
}

/**
 * Parses the Prometheus text format into families: Map name -> { type, help, samples: [{ name,
 * labels, value }] }. Samples are attached to the family they belong to (a histogram's
 * name_bucket/_sum/_count to name). Throws on a line it cannot read.
 */
export function parseExposition(text) {
  const fams = new Map();
  const fam = (name) => {
    if (!fams.has(name)) fams.set(name, { name, type: null, help: null, samples: [] });
    return fams.get(name);
  };
  let current = null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      const f = fam(m[2]);
      if (m[1] === 'HELP') f.help = m[3]; else f.type = m[3];
      current = f;
      continue;
    }
    if (line.startsWith('#')) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unreadable exposition line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    const base = current && (m[1] === current.name || m[1].startsWith(`${current.name}_`)) ? current : fam(m[1]);
    base.samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return fams;
}

/** The value of one sample (name and labels exactly), or undefined. */
export function sample(fams, name, labels = {}) {
  for (const f of fams.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.keys(labels).every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
