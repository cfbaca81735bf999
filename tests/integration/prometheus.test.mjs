// Monitoring and deployment files.
// - GET /metrics in the Prometheus text format: `promtool check metrics`, plus our rules (HELP and
//   TYPE on every family, counters end in _total, complete cumulative histograms);
// - the stream, upload and chat series count what clients did;
// - Debian's Prometheus scrapes two nodes (sharing nothing) and answers queries over both;
// - deploy/: prometheus.yml and the alert rules pass promtool; every Grafana expression is valid
//   PromQL and names only exposed series; nginx.conf passes `nginx -t` and carries a WebSocket
//   stream and a long-poll over TLS; bellhop.service passes `systemd-analyze verify`.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, waitFor, ROOT, BIN } from './support/server.mjs';
import { subscribed, closeAll, publisher, StreamClient } from './support/stream.mjs';
import { openUpload, checkinGuest, makeFile, startMsg, sha256, closeUploads } from './support/upload.mjs';
import { openChat, join as joinRoom, say } from './support/chat.mjs';
import { startPrometheus, startNginx, parseExposition, sample, run, freePort } from './support/prom.mjs';

const DEPLOY = join(ROOT, 'deploy');
let a; // --demo: guests and chat rooms exist
let b;
let prom;

before(async () => {
  [a, b] = await Promise.all([startServer({ args: ['--demo'] }), startServer()]);
  prom = await startPrometheus([a, b]);
});
afterEach(async () => {
  await closeAll();
  await closeUploads();
});
after(async () => {
  await closeAll();
  await prom?.stop();
  await Promise.all([a?.stop(), b?.stop()]);
});

async function scrape(srv) {
  const res = await srv.fetch('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
}

const metric = async (srv, name, labels) => sample(parseExposition(await scrape(srv)), name, labels);

test('stream, upload and chat series count what clients did', async () => {
  const owner = a.token({ org: 1, user: 1, role: 'owner' });
  const pub = publisher(a);

  // A resume with replay.
  const { c, ack } = await subscribed(a, owner, ['finance']);
  const p0 = ack.positions.finance;
  await pub({});
  await c.takeEvents(1, { service: 'finance' });
  await c.close();
  await pub({});
  const { c: c2 } = await subscribed(a, owner, ['finance'],
    { resume: { finance: { offset: p0.offset + 1, epoch: p0.epoch } } });
  await c2.takeEvents(1, { service: 'finance' });

  // Long-polls: one answered at once, one held until an event arrives.
  const { offset: last } = await pub({});
  const pollNow = await a.fetch(`/v1/realtime/finance/poll?since=${last - 1}&timeout=0`, { token: owner });
  assert.equal((await pollNow.json()).events.length, 1);
  const held = a.fetch(`/v1/realtime/finance/poll?since=${last}&timeout=20`, { token: owner });
  await waitFor(async () => (await metric(a, 'bellhop_polls_held')) === 1, { what: 'a held poll' });
  await pub({});
  assert.equal((await (await held).json()).events.length, 1);

  // Uploads: one completed, one rejected at verification, one cancelled.
  const guest = await checkinGuest(a, owner);
  const good = makeFile('pdf', 70000);
  const u1 = await openUpload(a, { token: owner });
  assert.equal((await u1.request(startMsg(guest, good, { sha256: sha256(good) }))).type, 'ready');
  await u1.sendChunks(good, 0, { chunk: 30000 });
  await u1.nextType('completed');
  const bad = makeFile('pdf', 50000);
  const u2 = await openUpload(a, { token: owner });
  assert.equal((await u2.request(startMsg(guest, bad, { sha256: sha256(Buffer.from('other')) }))).type, 'ready');
  await u2.sendChunks(bad, 0, { chunk: 30000 });
  assert.equal((await u2.answer()).code, 'checksum_mismatch');
  const u3 = await openUpload(a, { token: owner });
  assert.equal((await u3.request(startMsg(guest, bad))).type, 'ready');
  assert.equal((await u3.request({ type: 'cancel' })).type, 'cancelled');

  // Chat: one message.
  const ch = await openChat(a, { token: owner });
  assert.equal((await joinRoom(ch, 'property-1')).type, 'joined');
  assert.equal((await say(ch, 'property-1', 'hello')).type, 'ack');

  const f = parseExposition(await scrape(a));
  const v = (name, labels) => sample(f, name, labels);
  assert.ok(v('bellhop_stream_resumes_total') >= 1);
  assert.ok(v('bellhop_stream_connections_total') >= 2);
  assert.ok(v('bellhop_events_delivered_total', { service: 'finance' }) >= 2);
  assert.ok(v('bellhop_events_published_total', { service: 'finance' }) >= 2);
  assert.ok(v('bellhop_delivery_latency_seconds_count') >= 2);
  assert.equal(v('bellhop_polls_held'), 0);
  assert.equal(v('bellhop_poll_requests_total'), 2);
  assert.equal(v('bellhop_poll_events_total'), 2);
  assert.equal(v('bellhop_uploads_started_total'), 3);
  assert.equal(v('bellhop_uploads_completed_total'), 1);
  assert.equal(v('bellhop_uploads_rejected_total', { reason: 'checksum_mismatch' }), 1);
  assert.equal(v('bellhop_uploads_rejected_total', { reason: 'type_mismatch' }), 0);
  assert.equal(v('bellhop_uploads_cancelled_total'), 1);
  assert.equal(v('bellhop_upload_bytes_total'), good.length + bad.length);
  assert.equal(v('bellhop_chat_connections'), 1);
  assert.ok(v('bellhop_chat_messages_stored_total') >= 1);
  assert.ok(v('bellhop_chat_messages_in_total') >= 2); // the join and the message
  assert.ok(v('bellhop_chat_latency_seconds_count') >= 1);
  assert.ok(v('process_resident_memory_bytes') > 1e6);
  assert.ok(v('process_open_fds') > 0 && v('process_open_fds') < v('process_max_fds'));

  // Gauges come back down once the clients are gone.
  await Promise.all([u1.close(), u2.close(), u3.close(), ch.close(), c2.close()]);
  await waitFor(async () => {
    const g = parseExposition(await scrape(a));
    return sample(g, 'bellhop_uploads_active') === 0 && sample(g, 'bellhop_chat_connections') === 0 &&
      sample(g, 'bellhop_stream_connections') === 0;
  }, { what: 'the connection and upload gauges to reach 0' });
});

test('GET /metrics passes promtool and our naming rules on every family', async () => {
  for (const srv of [a, b]) {
    const text = await scrape(srv);
    const lint = run('promtool', ['check', 'metrics'], { input: text });
    assert.equal(lint.status, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
    assert.equal(lint.stdout + lint.stderr, '');

    for (const m of text.matchAll(/^# TYPE (\S+) /gm))
      assert.equal(text.split(`# TYPE ${m[1]} `).length, 2, `one TYPE line for ${m[1]}`);
    const fams = parseExposition(text);
    for (const f of fams.values()) {
      assert.ok(f.help && f.help.length > 3, `${f.name} has HELP`);
      assert.ok(['counter', 'gauge', 'histogram'].includes(f.type), `${f.name} has a TYPE (${f.type})`);
      assert.ok(f.samples.length > 0, `${f.name} has samples`);
      assert.ok(f.samples.every((s) => Number.isFinite(s.value) && s.value >= -1), `${f.name}: finite values`);
      if (f.type === 'counter') {
        assert.match(f.name, /_total$/, `counter ${f.name} ends in _total`);
        assert.ok(f.samples.every((s) => s.name === f.name && s.value >= 0));
      } else if (f.type === 'gauge') {
        assert.doesNotMatch(f.name, /_total$/, `gauge ${f.name} does not end in _total`);
        assert.ok(f.samples.every((s) => s.name === f.name));
      } else {
        const buckets = f.samples.filter((s) => s.name === `${f.name}_bucket`);
        const count = f.samples.find((s) => s.name === `${f.name}_count`);
        const sum = f.samples.find((s) => s.name === `${f.name}_sum`);
        assert.ok(count && sum && buckets.length >= 2, `${f.name}: _bucket, _sum and _count`);
        assert.equal(f.samples.length, buckets.length + 2, `${f.name}: nothing else`);
        assert.equal(buckets.at(-1).labels.le, '+Inf');
        const les = buckets.map((s) => Number(s.labels.le));
        assert.deepEqual(les, [...les].sort((x, y) => x - y), `${f.name}: le ascending`);
        for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${f.name}: cumulative`);
        assert.equal(buckets.at(-1).value, count.value, `${f.name}: +Inf == _count`);
      }
    }
    for (const name of ['bellhop_up', 'bellhop_stream_connections', 'bellhop_events_delivered_total',
      'bellhop_delivery_latency_seconds', 'bellhop_stream_resumes_total', 'bellhop_stream_events_dropped_total',
      'bellhop_stream_slow_consumer_closes_total', 'bellhop_polls_held', 'bellhop_poll_requests_total',
      'bellhop_upload_bytes_total', 'bellhop_uploads_completed_total',
      'bellhop_uploads_rejected_total', 'bellhop_chat_connections', 'bellhop_chat_messages_stored_total',
      'bellhop_chat_latency_seconds', 'process_open_fds', 'process_max_fds'])
      assert.ok(fams.has(name), `exposes ${name}`);
  }
});

test('Prometheus scrapes two nodes; queries add their series up', async () => {
  const subs = [];
  const pubs = [publisher(a), publisher(b)];
  for (const s of [a, b]) {
    subs.push((await subscribed(s, s.token({ org: 1, user: 1, role: 'owner' }), ['analytics'])).c);
  }
  for (let i = 0; i < 3; i++) await Promise.all(pubs.map((p) => p({ service: 'analytics', type: 'report_ready' })));
  await Promise.all(subs.map((c) => c.takeEvents(3, { service: 'analytics' })));

  const wait = (expr, pred, what = expr) => waitFor(async () => pred(await prom.value(expr)),
    { timeout: 20000, every: 200, what: `Prometheus: ${what}` });
  await wait('count(up{job="bellhop"} == 1)', (x) => x === 2);
  await wait('sum(bellhop_up)', (x) => x === 2);
  await wait('sum(bellhop_stream_connections)', (x) => x === 2);
  await wait('sum(bellhop_events_delivered_total{service="analytics"})', (x) => x === 6);
  await wait('count(bellhop_events_delivered_total{service="analytics"} == 3)', (x) => x === 2, 'both nodes at 3');

  // A rate needs two scrapes that saw the counter move: keep publishing until it shows.
  await waitFor(async () => {
    await pubs[1]({ service: 'analytics', type: 'report_ready' });
    return (await prom.value('sum(rate(bellhop_events_delivered_total[5s]))')) > 0;
  }, { timeout: 20000, every: 250, what: 'a positive delivery rate' });
  const p99 = await prom.value(
    'histogram_quantile(0.99, sum by (le) (rate(bellhop_delivery_latency_seconds_bucket[30s])))');
  assert.ok(Number.isFinite(p99) && p99 > 0 && p99 <= 5, `p99 ${p99}`);

  await Promise.all(subs.map((c) => c.close()));
  await wait('sum(bellhop_stream_connections)', (x) => x === 0);
});

test('deploy/: promtool accepts the scrape config and rules; the dashboard names only exposed series', async () => {
  const cfg = run('promtool', ['check', 'config', join(DEPLOY, 'prometheus.yml')]);
  assert.equal(cfg.status, 0, cfg.stdout + cfg.stderr);
  assert.match(cfg.stdout, /SUCCESS: 1 rule files found/); // the alert rules were loaded and checked too
  const rules = run('promtool', ['check', 'rules', join(DEPLOY, 'bellhop-alerts.yml')]);
  assert.equal(rules.status, 0, rules.stdout + rules.stderr);

  // Every name a bellhop series can have, from both nodes.
  const exposed = new Set();
  for (const s of [a, b]) {
    for (const f of parseExposition(await scrape(s)).values()) {
      exposed.add(f.name);
      for (const x of f.samples) exposed.add(x.name);
    }
  }
  const names = (expr) => [...expr.matchAll(/\b((?:bellhop|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]);

  const dash = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'bellhop.json'), 'utf8'));
  assert.equal(typeof dash.title, 'string');
  assert.ok(dash.uid);
  const panels = dash.panels.filter((p) => p.type !== 'row');
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const titles = panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const w of ['connections', 'deliveries', 'latency', 'drops', 'resumes', 'upload', 'chat', 'broker', 'long-poll'])
    assert.ok(titles.includes(w), `a panel about ${w}`);
  let exprs = 0;
  for (const p of panels) {
    assert.ok(p.targets?.length > 0, `panel "${p.title}" has queries`);
    for (const t of p.targets) {
      exprs++;
      for (const n of names(t.expr)) assert.ok(exposed.has(n), `panel "${p.title}": ${n} is not in /metrics`);
      // Grafana substitutes $__rate_interval; anything Prometheus refuses is a broken panel.
      await prom.query(t.expr.replaceAll('$__rate_interval', '10s'));
    }
  }
  assert.ok(exprs >= 20);

  const alerts = readFileSync(join(DEPLOY, 'bellhop-alerts.yml'), 'utf8');
  for (const n of names(alerts)) assert.ok(exposed.has(n), `alert rules: ${n} is not in /metrics`);
});

test('every BELLHOP_* variable named in deploy/ and docs/DEPLOYMENT.md is one bellhop --help lists', () => {
  const help = run(BIN, ['--help']);
  assert.equal(help.status, 0, help.stderr);
  const known = new Set(help.stdout.match(/BELLHOP_[A-Z0-9_]+/g));
  assert.ok(known.size > 30);
  const files = ['bellhop.env', 'bellhop.service', 'nginx.conf', 'prometheus.yml'].map((f) => join(DEPLOY, f));
  files.push(join(ROOT, 'docs', 'DEPLOYMENT.md'));
  for (const f of files) {
    for (const name of new Set(readFileSync(f, 'utf8').match(/BELLHOP_[A-Z0-9_]+/g) || []))
      assert.ok(known.has(name), `${f}: ${name} is not a bellhop option`);
  }
});

/** GET over TLS, accepting the test's self-signed certificate. */
function httpsGet(port, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(20000, () => req.destroy(new Error(`GET ${path}: no answer`)));
  });
}

test('deploy/nginx.conf passes nginx -t and carries a stream and a long-poll over TLS', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bellhop-nginx-'));
  let nginx;
  try {
    const crt = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const cert = run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt,
      '-days', '1', '-subj', '/CN=localhost']);
    assert.equal(cert.status, 0, cert.stderr);
    const [httpPort, tlsPort] = [await freePort(), await freePort()];
    // The example as shipped, with this machine's paths, ports and one upstream node (a and b share
    // no store, so a stream and a publish must meet on the same node here).
    const conf = readFileSync(join(DEPLOY, 'nginx.conf'), 'utf8')
      .replace(/^pid .*;$/m, `pid ${dir}/nginx.pid;`)
      .replace(/^error_log \S+/m, `error_log ${dir}/error.log`)
      .replace(/access_log \S+;/, `access_log ${dir}/access.log;`)
      .replace(/(\n\s*server 10\.0\.0\.\d+:4000[^\n]*)+/, `\n        server 127.0.0.1:${a.port};`)
      .replace(/\n\s*listen \[::\][^\n]*/g, '')
      .replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
      .replace('listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`)
      .replace('/etc/nginx/tls/bellhop.crt', crt)
      .replace('/etc/nginx/tls/bellhop.key', key);
    assert.doesNotMatch(conf, /10\.0\.0\.|\/etc\/nginx\/tls|\/run\/nginx|\/var\/log|listen (80|443)/);
    nginx = await startNginx(conf, dir, tlsPort);

    const owner = a.token({ org: 1, user: 1, role: 'owner' });
    const pub = publisher(a);
    const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/v2/realtime/stream`,
      { headers: { authorization: `Bearer ${owner}` }, rejectUnauthorized: false });
    const c = new StreamClient(ws);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const ack = await c.handshake(['finance']);
    assert.equal(ack.type, 'ack');
    const { offset } = await pub({ data: { via: 'nginx' } });
    const [ev] = await c.takeEvents(1, { service: 'finance' });
    assert.equal(ev.offset, offset);

    // A held long-poll comes back through nginx with the event published meanwhile.
    const poll = httpsGet(tlsPort, `/v1/realtime/finance/poll?since=${offset}&timeout=15`,
      { authorization: `Bearer ${owner}` });
    await new Promise((r) => setTimeout(r, 200)); // let the poll be held; either order answers the same
    const second = await pub({ data: { n: 2 } });
    const res = await poll;
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body);
    assert.deepEqual(body.events.map((e) => e.offset), [second.offset]);

    assert.equal((await httpsGet(tlsPort, '/metrics')).status, 404, 'nginx does not expose /metrics');
    assert.equal((await httpsGet(tlsPort, '/health')).status, 200);
    const plain = await fetch(`http://127.0.0.1:${httpPort}/health`, { redirect: 'manual' });
    assert.equal(plain.status, 301);
    await c.close();
  } finally {
    await nginx?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploy/bellhop.service passes systemd-analyze verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bellhop-unit-'));
  try {
    const unit = join(dir, 'bellhop.service');
    writeFileSync(unit, readFileSync(join(DEPLOY, 'bellhop.service'), 'utf8').replaceAll('/usr/local/bin/bellhop', BIN));
    const r = run('systemd-analyze', ['verify', unit]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /Unknown|Failed|ignoring|not executable/, r.stdout + r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
