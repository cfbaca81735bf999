// The documents API: list, metadata, streamed content, delete; org- and property-checked.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';
import { openUpload, checkinGuest, makeFile, startMsg, download, sha256, closeUploads } from './support/upload.mjs';

let srv;
let owner;
let g1;
let g2;
const docs = {};

async function upload(guest, data, extra = {}) {
  const c = await openUpload(srv, { token: owner });
  const ready = await c.request(startMsg(guest, data, extra));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  await c.sendChunks(data, 0, { chunk: 100000 });
  const done = await c.answer();
  assert.equal(done.type, 'completed', JSON.stringify(done));
  await c.close();
  return { ...done.document, uploadId: done.uploadId };
}

before(async () => {
  srv = await startServer({ args: ['--demo'] });
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
  g1 = await checkinGuest(srv, owner, { propertyId: 1 });
  g2 = await checkinGuest(srv, owner, { propertyId: 2 });
  docs.a = await upload(g1, makeFile('pdf', 700000), { fileName: 'a.pdf' });
  docs.b = await upload(g1, makeFile('png', 1000), { documentType: 'image', fileName: 'b.png', mimeType: 'image/png' });
  docs.c = await upload(g2, makeFile('jpeg', 1000), { documentType: 'driving_license', fileName: 'c.jpg', mimeType: 'image/jpeg', documentNumber: 'MH12 2011 0012345' });
});
afterEach(async () => { await closeUploads(); await closeAll(); });
after(async () => { await srv?.stop(); });

const get = async (path, token = owner, method = 'GET') => {
  const res = await srv.fetch(path, { token, method });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
};

test('list by guest, newest first, with pagination', async () => {
  let r = await get(`/v2/documents?guestId=${g1.id}`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.items.map((d) => d.id), [docs.b.id, docs.a.id]);
  r = await get(`/v2/documents?guestId=${g1.id}&limit=1`);
  assert.deepEqual(r.body.items.map((d) => d.id), [docs.b.id]);
  r = await get(`/v2/documents?guestId=${g1.id}&limit=1&before=${r.body.nextBefore}`);
  assert.deepEqual(r.body.items.map((d) => d.id), [docs.a.id]);
  r = await get('/v2/documents');
  assert.equal(r.body.items.length, 3);
  r = await get('/v2/documents?propertyId=2');
  assert.deepEqual(r.body.items.map((d) => d.id), [docs.c.id]);
  assert.equal(r.body.items[0].documentNumber, 'XXXXXXXXXXX2345');
  r = await get('/v2/documents?guestId=abc');
  assert.equal(r.status, 400);
});

test('metadata and content', async () => {
  const r = await get(`/v2/documents/${docs.a.id}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.document.fileName, 'a.pdf');
  assert.equal(r.body.document.size, 700000);
  const d = await download(srv, owner, docs.a.id);
  assert.equal(d.status, 200);
  assert.equal(d.headers.get('content-type'), 'application/pdf');
  assert.equal(d.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(sha256(d.body), docs.a.sha256);
  const h = await srv.fetch(`/v2/documents/${docs.b.id}/content`, { token: owner, method: 'HEAD' });
  assert.equal(h.status, 200);
  assert.equal(h.headers.get('content-length'), '1000');
  assert.equal(h.headers.get('content-type'), 'image/png');
});

test('organisation and property checks', async () => {
  const other = srv.token({ org: 2, user: 1, role: 'owner' });
  assert.equal((await get(`/v2/documents/${docs.a.id}`, other)).status, 404);
  assert.equal((await get(`/v2/documents/${docs.a.id}/content`, other)).status, 404);
  assert.equal((await get(`/v2/documents/${docs.a.id}`, other, 'DELETE')).status, 404);
  assert.equal((await get('/v2/documents', other)).body.items.length, 0);
  const desk = srv.token({ org: 1, user: 5, role: 'front_desk', properties: [1] });
  assert.equal((await get(`/v2/documents/${docs.c.id}`, desk)).status, 403);
  assert.equal((await get(`/v2/documents/${docs.c.id}/content`, desk)).status, 403);
  assert.equal((await get('/v2/documents?propertyId=2', desk)).status, 403);
  assert.deepEqual((await get('/v2/documents', desk)).body.items.map((d) => d.id), [docs.b.id, docs.a.id]);
  const hk = srv.token({ org: 1, user: 6, role: 'housekeeping', properties: [1] });
  assert.equal((await get(`/v2/documents/${docs.a.id}`, hk)).status, 403);
  assert.equal((await get('/v2/documents/999999')).status, 404);
  assert.equal((await get('/v2/documents/x/content')).status, 404);
  assert.equal((await get(`/v2/documents/${docs.a.id}`, null)).status, 401);
});

test('delete removes the record and the file, and publishes document_deleted', async () => {
  const { c } = await subscribed(srv, owner, ['guest']);
  const doc = await upload(g1, makeFile('pdf', 5000), { fileName: 'gone.pdf' });
  const file = join(srv.dataDir, 'documents', '1', doc.uploadId);
  assert.ok(existsSync(file));
  const r = await get(`/v2/documents/${doc.id}`, owner, 'DELETE');
  assert.equal(r.status, 200);
  assert.equal(r.body.document.id, doc.id);
  assert.equal(r.body.event.type, 'document_deleted');
  assert.ok(!existsSync(file));
  assert.equal((await get(`/v2/documents/${doc.id}`)).status, 404);
  assert.equal((await get(`/v2/documents/${doc.id}/content`)).status, 404);
  await c.waitEvent((e) => e.type === 'document_deleted' && e.data.id === doc.id);
});
