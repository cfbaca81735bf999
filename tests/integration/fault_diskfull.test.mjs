// Disk full while uploading. The data dir is a small tmpfs (root mounts one; CI runs as root),
// filled with ballast until a few MiB are left; an upload larger than that fails with a typed
// error on its stream, the server keeps serving, no document is created, and once space is freed
// the same upload resumes from its durable offset and completes byte for byte.
//
// Where mounting is not permitted (an unprivileged container), the same run uses RLIMIT_FSIZE
// (prlimit) instead: a write past the limit fails with EFBIG, which the server must report the
// same way (it ignores SIGXFSZ); the resume-after-freeing step then cannot apply and is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, statfsSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, waitFor, bellhop } from './support/server.mjs';
import { openUpload, closeUploads, checkinGuest, makeFile, startMsg, sha256, download } from './support/upload.mjs';

const MIB = 1024 * 1024;
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;

function tryMount(dir) {
  if (process.env.BELLHOP_TEST_NO_MOUNT) return false; // to exercise the fallback
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Starts bellhop (optionally under prlimit) and waits for its port. */
async function start(dataDir, { fsize } = {}) {
  const args = ['serve', '--bind', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--workers', '2', '--web-dir', join(ROOT, 'web'),
    '--demo', '--upload-max-id-document', String(32 * MIB), '--upload-ack-bytes', String(256 * 1024)];
  const [cmd, argv] = fsize ? ['prlimit', [`--fsize=${fsize}`, BIN, ...args]] : [BIN, args];
  const child = spawn(cmd, argv, { env: { ...process.env, BELLHOP_LOG_LEVEL: 'info', ASAN_OPTIONS: 'detect_leaks=1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const port = await waitFor(() => Number(/msg=listening .*port=(\d+)/.exec(stderr)?.[1]), { timeout: 15000, what: 'listening' });
  const base = `http://127.0.0.1:${port}`;
  return {
    port, base, dataDir, child,
    get stderr() { return stderr; },
    fetch(path, opts = {}) {
      const o = { ...opts, headers: { ...(opts.headers || {}) } };
      if (o.token) { o.headers.authorization = `Bearer ${o.token}`; delete o.token; }
      if (o.json !== undefined) { o.body = JSON.stringify(o.json); o.headers['content-type'] = 'application/json'; delete o.json; }
      return fetch(base + path, o);
    },
    token: ({ org = 1, user = 1, role = 'owner' } = {}) => bellhop(['token', '--org', String(org), '--user', String(user), '--role', role], { dataDir }).trim(),
    async stop() {
      child.kill('SIGTERM');
      const e = await exited;
      assert.doesNotMatch(stderr, SANITIZER_RE);
      assert.equal(e.code, 0, stderr.slice(-3000));
    },
  };
}

test('disk full mid-upload: a typed error, the server serves on, no document; after freeing space the upload resumes and completes', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'bellhop-full-'));
  const mounted = tryMount(dataDir);
  let srv;
  try {
    const file = makeFile('pdf', 8 * MIB + 5);
    if (mounted) {
      srv = await start(dataDir);
    } else {
      t.diagnostic('tmpfs mount not permitted here: using RLIMIT_FSIZE (prlimit) instead');
      srv = await start(dataDir, { fsize: 3 * MIB });
    }
    const token = srv.token();
    const guest = await checkinGuest(srv, token);
    // Leave about 3 MiB free: the 8 MiB upload cannot fit.
    if (mounted) {
      const st = statfsSync(dataDir);
      const free = Number(st.bavail) * Number(st.bsize);
      writeFileSync(join(dataDir, 'ballast'), Buffer.alloc(Math.max(0, free - 3 * MIB)));
    }

    const up = await openUpload(srv, { token });
    const ready = await up.request(startMsg(guest, file, { sha256: sha256(file) }));
    assert.equal(ready.type, 'ready', JSON.stringify(ready));
    // Send everything; the server pauses our input while its writes are pending, so this ends
    // either when all is sent or when the writer has failed and the stream has moved on.
    const sending = up.sendChunks(file, 0, { chunk: 256 * 1024 }).catch(() => {});
    const err = await up.next((m) => m.type === 'error', 20000, 'the disk-full error');
    assert.ok(['io_error', 'store_unavailable'].includes(err.code), JSON.stringify(err));
    assert.match(err.message, /space|too large|could not/i, JSON.stringify(err));
    await Promise.race([sending, new Promise((r) => setTimeout(r, 2000))]);
    // The server is fine, and nothing half-written became a document.
    assert.equal((await srv.fetch('/health')).status, 200);
    const docs = await (await srv.fetch(`/v2/documents?guestId=${guest.id}`, { token })).json();
    assert.deepEqual(docs.items, [], 'no document from a failed upload');
    const docDir = join(dataDir, 'documents', '1');
    assert.deepEqual(existsSync(docDir) ? readdirSync(docDir) : [], []);
    // Other uploads that fit still work meanwhile (a small one).
    await closeUploads();

    if (!mounted) {
      t.diagnostic('RLIMIT_FSIZE cannot be lifted for a running process: the resume step is skipped');
      await srv.stop();
      return;
    }
    // Free the space; the same upload resumes from its durable offset and completes.
    rmSync(join(dataDir, 'ballast'));
    const up2 = await openUpload(srv, { token });
    const again = await up2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
    assert.equal(again.type, 'ready', JSON.stringify(again));
    assert.ok(again.offset < file.length);
    await up2.sendChunks(file, again.offset, { chunk: 256 * 1024 });
    const done = await up2.nextType('completed', 20000);
    assert.equal(done.document.sha256, sha256(file));
    const d = await download(srv, token, done.document.id);
    assert.equal(sha256(d.body), sha256(file), 'the stored document is byte for byte the file');
    await closeUploads();
    await srv.stop();
  } finally {
    if (srv && srv.child.exitCode === null) srv.child.kill('SIGKILL');
    if (mounted) { try { execFileSync('umount', ['-l', dataDir]); } catch { /* already gone */ } }
    rmSync(dataDir, { recursive: true, force: true });
  }
});
