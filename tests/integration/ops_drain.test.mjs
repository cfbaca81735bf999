// Operations: SIGTERM drains (stop accepting, close frames 1001, in-flight HTTP requests finish,
// uploads keep their durable offset, exit 0 within BELLHOP_DRAIN_TIMEOUT), and SIGHUP reopens the
// log file and reloads the feature flags from the store.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { startServer, rawConnect, waitFor, serverHasRead, BIN, ROOT, storeEnv, storeSql } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';
import { openChat } from './support/chat.mjs';
import { openUpload, closeUploads, checkinGuest, makeFile, startMsg, sha256, TUS_PATH } from './support/upload.mjs';

const MIB = 1024 * 1024;
afterEach(async () => { await closeAll(); await closeUploads(); });

const meta = (o) => Object.entries(o).map(([k, v]) => `${k} ${Buffer.from(String(v)).toString('base64')}`).join(',');

async function tusCreate(srv, token, guest, length) {
  const res = await srv.fetch(TUS_PATH, {
    method: 'POST',
    token,
    headers: { 'tus-resumable': '1.0.0', 'upload-length': String(length), 'upload-metadata': meta({ documentType: 'passport', guestId: guest.id, propertyId: guest.propertyId, fileName: 'p.pdf' }) },
  });
  await res.arrayBuffer();
  assert.equal(res.status, 201);
  return res.headers.get('location');
}

async function tusOffset(srv, token, loc) {
  const res = await srv.fetch(loc, { method: 'HEAD', token, headers: { 'tus-resumable': '1.0.0' } });
  assert.equal(res.status, 200);
  return Number(res.headers.get('upload-offset'));
}

/** A raw PATCH whose body is sent in parts by the test. */
async function rawPatch(srv, token, loc, offset, length) {
  const c = await rawConnect(srv.port);
  c.write(`PATCH ${loc} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ${token}\r\nTus-Resumable: 1.0.0\r\n` +
    `Content-Type: application/offset+octet-stream\r\nUpload-Offset: ${offset}\r\nContent-Length: ${length}\r\n\r\n`);
  return c;
}

function exitOf(srv) {
  if (srv.child.exitCode !== null || srv.child.signalCode !== null) return Promise.resolve({ code: srv.child.exitCode, signal: srv.child.signalCode });
  return new Promise((res) => srv.child.once('exit', (code, signal) => res({ code, signal })));
}

test('SIGTERM drains: no new connections, streams get 1001, an in-flight request finishes, uploads stay resumable, exit 0', async () => {
  const s1 = await startServer({ args: ['--demo', '--upload-ack-bytes', String(MIB)], env: { BELLHOP_DRAIN_TIMEOUT: '10000' } });
  const dataDir = s1.dataDir;
  let s2;
  try {
    const token = s1.token({ org: 1, user: 1, role: 'owner' });
    const guest = await checkinGuest(s1, token);
    const { c: stream } = await subscribed(s1, token, ['finance']);
    const chat = await openChat(s1, { token });
    // An upload stream part-way through a file, with a durable offset acknowledged.
    const file = makeFile('pdf', 4 * MIB);
    const up = await openUpload(s1, { token });
    const ready = await up.request(startMsg(guest, file, { sha256: sha256(file) }));
    assert.equal(ready.type, 'ready', JSON.stringify(ready));
    await up.sendChunks(file, 0, { chunk: 128 * 1024, to: 2 * MIB + 777 });
    const acked = await up.next((m) => m.type === 'progress' && m.offset >= MIB);
    // An idle keep-alive HTTP connection.
    const idle = await rawConnect(s1.port);
    idle.write('GET /health HTTP/1.1\r\nHost: t\r\n\r\n');
    await idle.waitData(/\r\n\r\n\{[^]*\}$/);
    // A tus PATCH with half of its body sent.
    const doc = makeFile('pdf', 300000);
    const loc = await tusCreate(s1, token, guest, doc.length);
    const patch = await rawPatch(s1, token, loc, 0, 200000);
    patch.socket.write(doc.subarray(0, 100000));
    // The request must be in flight in the server, not still in its socket's receive queue.
    await waitFor(() => patch.socket.writableLength === 0 && serverHasRead(s1.port),
      { timeout: 5000, what: 'the server to read the PATCH so far' });

    const t0 = Date.now();
    const exited = exitOf(s1);
    s1.child.kill('SIGTERM');
    const [sc, cc, uc] = await Promise.all([stream.waitClose(5000), chat.waitClose(5000), up.waitClose(5000)]);
    assert.equal(sc.code, 1001);
    assert.equal(cc.code, 1001);
    assert.equal(uc.code, 1001);
    await idle.waitEnd(5000); // closed at once, between requests
    // New connections are refused once every worker has closed its listener.
    await waitFor(() => new Promise((res) => {
      const sock = net.connect(s1.port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); res(false); });
      sock.once('error', (e) => res(e.code === 'ECONNREFUSED'));
    }), { timeout: 5000, every: 20, what: 'the port to refuse connections' });
    // The in-flight request is still served to the end, then its connection closes.
    assert.equal(patch.ended, false, 'the in-flight request was not cut');
    patch.socket.write(doc.subarray(100000, 200000));
    await patch.waitEnd(5000);
    assert.match(patch.data, /^HTTP\/1\.1 204 /);
    assert.match(patch.data, /Upload-Offset: 200000/i);
    assert.match(patch.data, /Connection: close/i);

    const { code } = await exited;
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 10000, `exited after ${Date.now() - t0} ms, inside the drain timeout`);
    assert.match(s1.stderr, /msg=draining /);
    assert.match(s1.stderr, /msg=drained /);
    await s1.stop({ keepData: true }); // sanitizer and exit checks

    // After a restart: both uploads continue from what was acknowledged.
    s2 = await startServer({ dataDir, args: ['--upload-ack-bytes', String(MIB)] });
    assert.equal(await tusOffset(s2, token, loc), 200000);
    const c2 = await openUpload(s2, { token });
    const again = await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
    assert.equal(again.type, 'ready', JSON.stringify(again));
    assert.ok(again.offset >= acked.offset, `acknowledged ${acked.offset}, resumed at ${again.offset}`);
    await c2.sendChunks(file, again.offset, { chunk: 256 * 1024 });
    const done = await c2.nextType('completed');
    assert.equal(done.document.sha256, sha256(file));
  } finally {
    await s1.kill();
    await s2?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('BELLHOP_DRAIN_TIMEOUT bounds the drain: a request that never finishes does not hold the exit', async () => {
  const s = await startServer({ args: ['--demo'], env: { BELLHOP_DRAIN_TIMEOUT: '800' } });
  const token = s.token({ org: 1, user: 1, role: 'owner' });
  const guest = await checkinGuest(s, token);
  const doc = makeFile('pdf', 300000);
  const loc = await tusCreate(s, token, guest, doc.length);
  const patch = await rawPatch(s, token, loc, 0, 300000);
  patch.socket.write(doc.subarray(0, 1000)); // and then nothing: a stalled client
  await waitFor(() => patch.socket.writableLength === 0 && serverHasRead(s.port),
    { timeout: 5000, what: 'the server to read the first bytes' });
  const t0 = Date.now();
  const exited = exitOf(s);
  s.child.kill('SIGTERM');
  const { code } = await exited;
  const ms = Date.now() - t0;
  assert.equal(code, 0);
  assert.ok(ms >= 700, `waited for the drain (${ms} ms)`);
  assert.ok(ms < 800 + 4000, `exited ${ms} ms after SIGTERM`);
  assert.match(s.stderr, /msg=drain_timeout left=1/);
  await patch.waitEnd(2000);
  await s.stop();
});

test('SIGINT drains the same way (close 1001, exit 0)', async () => {
  const s = await startServer();
  const { c } = await subscribed(s, s.token({ org: 1, user: 1, role: 'owner' }), ['finance']);
  const exited = exitOf(s);
  s.child.kill('SIGINT');
  assert.equal((await c.waitClose(5000)).code, 1001);
  assert.equal((await exited).code, 0);
  await s.stop();
});

// ---------------------------------------------------------------------------------- SIGHUP

function freePort() {
  return new Promise((res) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => res(port)); });
  });
}

test('SIGHUP reopens BELLHOP_LOG_FILE after rotation and reloads flags changed in the store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bellhop-hup-'));
  const log = join(dir, 'bellhop.log');
  const port = await freePort();
  const env = { ...process.env, BELLHOP_LOG_LEVEL: 'info', BELLHOP_LOG_FILE: log, ASAN_OPTIONS: 'detect_leaks=1', ...storeEnv(dir) };
  const child = spawn(BIN, ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data-dir', dir, '--workers', '2', '--web-dir', join(ROOT, 'web')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  try {
    await waitFor(() => existsSync(log) && /msg=listening /.test(readFileSync(log, 'utf8')), { timeout: 15000, what: 'the listening line in the log file' });
    assert.doesNotMatch(stderr, /msg=listening/, 'logs go to the file, not stderr');
    const base = `http://127.0.0.1:${port}`;
    const token = execFileSync(BIN, ['token', '--org', '1', '--user', '1', '--role', 'owner', '--data-dir', dir], { env: { ...env, BELLHOP_LOG_FILE: '' }, encoding: 'utf8' }).trim();
    const flags = async () => (await (await fetch(`${base}/feature-flags`, { headers: { authorization: `Bearer ${token}` } })).json()).flags;
    assert.equal((await flags()).REALTIME_ROLLOUT_PERCENT, 100);

    // Rotate: the server keeps writing to the renamed file until SIGHUP.
    renameSync(log, `${log}.1`);
    await (await fetch(`${base}/health`)).arrayBuffer();
    await waitFor(() => /path=\/health/.test(readFileSync(`${log}.1`, 'utf8')), { timeout: 3000, what: 'the request line in the rotated file' });
    // Another process (an admin tool, another instance) changes a flag in the store.
    storeSql(dir, "INSERT INTO feature_flags(name, value, updated_by, updated_at) VALUES ('REALTIME_ROLLOUT_PERCENT', '10', 1, 0) " +
      'ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at');
    assert.equal((await flags()).REALTIME_ROLLOUT_PERCENT, 100, 'not before the reload');
    child.kill('SIGHUP');
    await waitFor(() => existsSync(log) && /msg=log_reopened/.test(readFileSync(log, 'utf8')), { timeout: 5000, what: 'a fresh log file' });
    await waitFor(async () => (await flags()).REALTIME_ROLLOUT_PERCENT === 10, { timeout: 5000, what: 'the reloaded flag' });
    await waitFor(() => /msg=flags_reloaded changed=1/.test(readFileSync(log, 'utf8')), { timeout: 5000, what: 'the reload log line' });
    await (await fetch(`${base}/health`)).arrayBuffer();
    await waitFor(() => /path=\/health/.test(readFileSync(log, 'utf8')), { timeout: 3000, what: 'requests logged to the new file' });
    assert.equal(child.exitCode, null, 'SIGHUP does not stop the server');
  } finally {
    child.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/);
    rmSync(dir, { recursive: true, force: true });
  }
});
