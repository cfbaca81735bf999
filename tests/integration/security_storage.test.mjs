// File storage: documents are stored under names the server makes (the upload id), never the
// client's file name, with owner-only permissions; downloads quote the client's name safely; the
// SQLite database (password hashes, guest data) is owner-only too (docs/SECURITY.md F3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './support/server.mjs';
import { openUpload, closeUploads, checkinGuest, makeFile, startMsg, download } from './support/upload.mjs';

let srv;
let token;
before(async () => {
  srv = await startServer({ args: ['--demo'] });
  token = srv.token({ org: 1, user: 1, role: 'owner' });
});
after(async () => {
  await closeUploads();
  await srv?.stop();
});

test('stored documents: server-made names, mode 0600 in 0700 directories; the download name is quoted', async () => {
  const guest = await checkinGuest(srv, token);
  const data = makeFile('png', 3000);
  const c = await openUpload(srv, { token });
  const name = 'évil "name"; x.png';
  const ready = await c.request(startMsg(guest, data, { documentType: 'image', fileName: name, mimeType: 'image/png' }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  await c.sendChunks(data, 0);
  const done = await c.nextType('completed');
  await c.close();

  const orgDir = join(srv.dataDir, 'documents', '1');
  const files = readdirSync(orgDir);
  assert.ok(files.length >= 1);
  for (const f of files) {
    assert.match(f, /^[0-9a-f]{32}$/, 'stored under the upload id, not the client name');
    assert.equal(statSync(join(orgDir, f)).mode & 0o777, 0o600, `${f} is owner-only`);
  }
  for (const d of [join(srv.dataDir, 'documents'), orgDir, join(srv.dataDir, 'uploads')])
    assert.equal(statSync(d).mode & 0o777, 0o700, `${d} is owner-only`);

  const got = await download(srv, token, done.document.id);
  assert.equal(got.status, 200);
  const cd = got.headers.get('content-disposition');
  assert.match(cd, /^attachment; filename="[^"\\]*"; filename\*=UTF-8''/);
  assert.ok(!/[\r\n\t]/.test(cd), 'no control characters in the header');
  assert.ok(cd.includes("filename*=UTF-8''%C3%A9vil%20%22name%22%3B"), cd);
});

test('the SQLite database and its -wal and -shm files are created owner-only (0600)', { skip: Boolean(process.env.BELLHOP_TEST_PG) }, async () => {
  const r = await srv.fetch('/health');
  await r.arrayBuffer();
  const db = join(srv.dataDir, 'bellhop.db');
  assert.ok(existsSync(db), 'bellhop.db in the data dir');
  for (const f of [db, `${db}-wal`, `${db}-shm`].filter((x) => existsSync(x)))
    assert.equal(statSync(f).mode & 0o777, 0o600, `${f} is owner-only`);
});
