// tus 1.0 at /v2/documents/uploads/: the real tus-js-client (Node, Buffer input) uploads guest
// documents with chunking and resumes after an aborted request and after a kill -9 of the server;
// and the protocol's rules one by one with raw requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import * as tus from 'tus-js-client';
import { startServer, waitFor } from './support/server.mjs';
import { checkinGuest, makeFile, download, sha256, TUS_PATH } from './support/upload.mjs';

const MIB = 1024 * 1024;
let srv;
let owner;
let guest;

before(async () => {
  srv = await startServer({ args: ['--demo', '--upload-ack-bytes', String(MIB), '--upload-max-id-document', String(20 * MIB)] });
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
  guest = await checkinGuest(srv, owner);
});
after(async () => { await srv?.stop(); });

/** An in-memory urlStorage, so that findPreviousUploads works in Node. */
function memoryStorage() {
  const m = new Map();
  let n = 0;
  return {
    findAllUploads: async () => [...m.values()],
    findUploadsByFingerprint: async (fp) => [...m.values()].filter((u) => u.fingerprint === fp),
    removeUpload: async (key) => { m.delete(key); },
    addUpload: async (fp, upload) => { const key = `u${++n}`; m.set(key, { ...upload, fingerprint: fp, urlStorageKey: key }); return key; },
  };
}

function tusOptions(s, token, g, data, extra = {}) {
  return {
    endpoint: `${s.base}${TUS_PATH}`,
    headers: { authorization: `Bearer ${token}` },
    metadata: { documentType: 'passport', guestId: String(g.id), propertyId: String(g.propertyId), filename: 'scan.pdf', filetype: 'application/pdf', sha256: sha256(data) },
    retryDelays: [50, 100, 200, 400, 800, 1600],
    fingerprint: async () => `fp-${sha256(data)}`,
    ...extra,
  };
}

function run(upload) {
  return new Promise((resolve, reject) => {
    upload.options.onError = reject;
    upload.options.onSuccess = (p) => resolve(p);
    upload.start();
  });
}

async function documentBy(s, token, g, digest) {
  const r = await (await s.fetch(`/v2/documents?guestId=${g.id}`, { token })).json();
  return r.items.find((d) => d.sha256 === digest);
}

test('tus-js-client uploads in chunks, is aborted mid-request, and resumes from the server\'s offset', async () => {
  const data = makeFile('pdf', 5 * MIB + 777);
  const storage = memoryStorage();
  const first = new tus.Upload(data, tusOptions(srv, owner, guest, data, { urlStorage: storage, chunkSize: 2 * MIB }));
  // Abort inside the second PATCH, once more than the first chunk has gone out.
  await new Promise((resolve, reject) => {
    first.options.onError = reject;
    first.options.onSuccess = () => reject(new Error('finished before the abort'));
    first.options.onProgress = (sent) => { if (sent > 2.5 * MIB) { first.options.onProgress = null; first.abort().then(resolve, reject); } };
    first.start();
  });
  assert.match(first.url, /\/v2\/documents\/uploads\/[0-9a-f]{32}$/);
  const head = await srv.fetch(new URL(first.url).pathname, { method: 'HEAD', headers: { authorization: `Bearer ${owner}`, 'tus-resumable': '1.0.0' } });
  assert.equal(head.status, 200);
  const offset = Number(head.headers.get('upload-offset'));
  assert.ok(offset >= 2 * MIB && offset < data.length, `offset after the abort: ${offset}`);
  assert.equal(head.headers.get('upload-length'), String(data.length));
  assert.ok(Date.parse(head.headers.get('upload-expires')) > Date.now());

  const second = new tus.Upload(data, tusOptions(srv, owner, guest, data, { urlStorage: storage, chunkSize: 2 * MIB }));
  const previous = await second.findPreviousUploads();
  assert.equal(previous.length, 1);
  second.resumeFromPreviousUpload(previous[0]);
  let resumedAt = null;
  second.options.onProgress = (sent) => { if (resumedAt === null) resumedAt = sent; };
  const ok = await run(second);
  assert.equal(second.url, first.url);
  assert.ok(resumedAt > 2 * MIB, `resumed, not restarted (first progress at ${resumedAt})`);
  const docId = ok.lastResponse.getHeader('X-Document-Id');
  assert.match(docId, /^\d+$/);
  const d = await download(srv, owner, docId);
  assert.equal(d.status, 200);
  assert.equal(sha256(d.body), sha256(data));
  // A HEAD after completion still answers, with the whole length.
  const done = await srv.fetch(new URL(first.url).pathname, { method: 'HEAD', headers: { authorization: `Bearer ${owner}`, 'tus-resumable': '1.0.0' } });
  assert.equal(done.headers.get('upload-offset'), String(data.length));
});

test('creation-with-upload: the data rides on the POST', async () => {
  const data = makeFile('png', 300000);
  const up = new tus.Upload(data, tusOptions(srv, owner, guest, data, {
    uploadDataDuringCreation: true,
    metadata: { documentType: 'image', guestId: String(guest.id), propertyId: '1', filename: 'room.png', filetype: 'image/png' },
  }));
  const ok = await run(up);
  const doc = await documentBy(srv, owner, guest, sha256(data));
  assert.ok(doc, 'stored');
  assert.equal(String(doc.id), ok.lastResponse.getHeader('X-Document-Id'));
  assert.equal(doc.mimeType, 'image/png');
  assert.equal(doc.fileName, 'room.png');
});

test('kill -9 mid-upload: tus-js-client resumes against the restarted server and nothing is lost', async () => {
  const s1 = await startServer({ args: ['--demo', '--upload-ack-bytes', String(MIB)] });
  const dataDir = s1.dataDir;
  let s2;
  try {
    const token = s1.token({ org: 1, user: 1, role: 'owner' });
    const g = await checkinGuest(s1, token);
    const data = makeFile('pdf', 6 * MIB);
    const up = new tus.Upload(data, tusOptions(s1, token, g, data, { retryDelays: [] }));
    await new Promise((resolve) => {
      up.options.onError = () => resolve();
      up.options.onSuccess = () => resolve();
      // "sent" counts bytes handed to the socket, which a busy server (ASan, PostgreSQL, a loaded
      // machine) may not have read yet: kill once the server itself reports more than 1 MiB
      // durable, so that the assertion below tests recovery and not the machine's speed.
      const durable = async () => Number((await s1.fetch(new URL(up.url).pathname, { method: 'HEAD',
        headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` } })).headers.get('upload-offset'));
      up.options.onProgress = (sent) => {
        if (sent <= 3 * MIB) return;
        up.options.onProgress = null;
        waitFor(async () => (await durable()) > MIB, { timeout: 15000, every: 20, what: 'more than 1 MiB durable' })
          .catch(() => {}).finally(() => s1.kill().then(resolve));
      };
      up.start();
    });
    const path = new URL(up.url).pathname;
    s2 = await startServer({ dataDir, args: ['--upload-ack-bytes', String(MIB)] });
    const again = new tus.Upload(data, tusOptions(s2, token, g, data, { uploadUrl: `${s2.base}${path}` }));
    let resumedAt = null;
    again.options.onProgress = (sent) => { if (resumedAt === null) resumedAt = sent; };
    await run(again);
    assert.ok(resumedAt > MIB, `resumed at ${resumedAt}`);
    const doc = await documentBy(s2, token, g, sha256(data));
    assert.ok(doc, 'the document is complete and its SHA-256 is the original\'s');
    assert.equal(sha256((await download(s2, token, doc.id)).body), sha256(data));
  } finally {
    await s1.kill();
    await s2?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- the protocol, request by request

const meta = (o) => Object.entries(o).map(([k, v]) => `${k} ${Buffer.from(String(v)).toString('base64')}`).join(',');

async function tusFetch(path, { method = 'POST', headers = {}, body, token = owner } = {}) {
  const h = { 'tus-resumable': '1.0.0', ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  const res = await srv.fetch(path, { method, headers: h, body });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json };
}

async function create(data, extra = {}, headers = {}) {
  const r = await tusFetch(TUS_PATH, {
    headers: { 'upload-length': String(data.length), 'upload-metadata': meta({ documentType: 'passport', guestId: guest.id, propertyId: guest.propertyId, fileName: 'p.pdf', ...extra }), ...headers },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.equal(r.headers.get('tus-resumable'), '1.0.0');
  return r.headers.get('location');
}

const patch = (loc, offset, body, headers = {}) =>
  tusFetch(loc, { method: 'PATCH', body, headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers } });

test('OPTIONS advertises version, extensions, checksum algorithm and max size', async () => {
  const r = await tusFetch(TUS_PATH, { method: 'OPTIONS', token: null, headers: { 'tus-resumable': undefined } });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('tus-version'), '1.0.0');
  assert.equal(r.headers.get('tus-extension'), 'creation,creation-with-upload,termination,checksum,expiration');
  assert.equal(r.headers.get('tus-checksum-algorithm'), 'sha256');
  assert.ok(Number(r.headers.get('tus-max-size')) > 0);
});

test('creation rules: Tus-Resumable, Upload-Length, metadata, limits, auth', async () => {
  let r = await tusFetch(TUS_PATH, { headers: { 'tus-resumable': undefined, 'upload-length': '10' } });
  assert.equal(r.status, 412);
  assert.equal(r.headers.get('tus-version'), '1.0.0');
  r = await tusFetch(TUS_PATH, { token: null, headers: { 'upload-length': '10' } });
  assert.equal(r.status, 401);
  r = await tusFetch(TUS_PATH, { headers: { 'upload-metadata': meta({ documentType: 'passport' }) } });
  assert.equal(r.status, 400);
  r = await tusFetch(TUS_PATH, { headers: { 'upload-length': '-5' } });
  assert.equal(r.status, 400);
  r = await tusFetch(TUS_PATH, { headers: { 'upload-length': '10', 'upload-metadata': 'documentType !!!notbase64' } });
  assert.equal(r.status, 400);
  r = await tusFetch(TUS_PATH, { headers: { 'upload-length': String(21 * MIB), 'upload-metadata': meta({ documentType: 'passport', guestId: guest.id, propertyId: 1, fileName: 'p.pdf' }) } });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'too_large');
  r = await tusFetch(TUS_PATH, { headers: { 'upload-length': '10', 'upload-metadata': meta({ documentType: 'passport', guestId: guest.id, propertyId: 1, fileName: '../../x.pdf' }) } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /^fileName: /);
  r = await tusFetch(TUS_PATH, { headers: { 'upload-length': '10', 'upload-metadata': meta({ documentType: 'aadhaar', guestId: guest.id, propertyId: 1, fileName: 'a.pdf', documentNumber: '234567890123' }) } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /^documentNumber: /);
  r = await tusFetch(TUS_PATH, { headers: { 'upload-length': '10', 'upload-metadata': `${meta({ documentType: 'passport', guestId: guest.id, propertyId: 1 })},fileName ${Buffer.from('a\u0000b').toString('base64')}` } });
  assert.equal(r.status, 400);
});

test('PATCH rules: content type, offsets, checksums (460 keeps nothing), completion', async () => {
  const data = makeFile('pdf', 30000);
  const loc = await create(data, { sha256: sha256(data) });
  assert.match(loc, /^\/v2\/documents\/uploads\/[0-9a-f]{32}$/);
  let r = await tusFetch(loc, { method: 'PATCH', body: data.subarray(0, 10), headers: { 'content-type': 'application/json', 'upload-offset': '0' } });
  assert.equal(r.status, 415);
  r = await patch(loc, -1, data.subarray(0, 10));
  assert.equal(r.status, 400);
  r = await patch(loc, 100, data.subarray(100, 200));
  assert.equal(r.status, 409);
  assert.equal(r.json.error.code, 'offset_mismatch');
  r = await patch(loc, 0, data.subarray(0, 10000));
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('upload-offset'), '10000');
  assert.ok(r.headers.get('upload-expires'));
  r = await patch(loc, 5000, data.subarray(5000, 12000)); // overlaps
  assert.equal(r.status, 409);
  const digest = (b) => `sha256 ${createHash('sha256').update(b).digest('base64')}`;
  r = await patch(loc, 10000, data.subarray(10000, 20000), { 'upload-checksum': digest(Buffer.from('nope')) });
  assert.equal(r.status, 460);
  assert.equal(r.json.error.code, 'checksum_mismatch');
  let h = await tusFetch(loc, { method: 'HEAD' });
  assert.equal(h.headers.get('upload-offset'), '10000', 'the rejected bytes are gone');
  r = await patch(loc, 10000, data.subarray(10000, 20000), { 'upload-checksum': `md5 ${Buffer.alloc(16).toString('base64')}` });
  assert.equal(r.status, 400);
  r = await patch(loc, 10000, data.subarray(10000, 20000), { 'upload-checksum': digest(data.subarray(10000, 20000)) });
  assert.equal(r.status, 204);
  assert.equal(r.headers.get('upload-offset'), '20000');
  r = await patch(loc, 20000, Buffer.concat([data.subarray(20000), Buffer.from('extra')]));
  assert.equal(r.status, 413);
  h = await tusFetch(loc, { method: 'HEAD' });
  const at = Number(h.headers.get('upload-offset'));
  r = await patch(loc, at, data.subarray(at));
  assert.equal(r.status, 204, JSON.stringify(r.json));
  assert.equal(r.headers.get('upload-offset'), String(data.length));
  assert.match(r.headers.get('x-document-id'), /^\d+$/);
});

test('a completed tus upload whose bytes are wrong is rejected like on the stream, and discarded', async () => {
  const data = makeFile('pdf', 5000);
  let loc = await create(data, { sha256: sha256(Buffer.from('other')) });
  let r = await patch(loc, 0, data);
  assert.equal(r.status, 460);
  assert.equal((await tusFetch(loc, { method: 'HEAD' })).status, 404);
  loc = await create(data, { documentType: 'image', fileName: 'x.png' });
  r = await patch(loc, 0, data);
  assert.equal(r.status, 415);
  assert.equal(r.json.error.code, 'type_mismatch');
  assert.equal((await tusFetch(loc, { method: 'HEAD' })).status, 404);
});

test('termination, unknown ids and other organisations', async () => {
  const data = makeFile('pdf', 5000);
  const loc = await create(data);
  const other = srv.token({ org: 2, user: 1, role: 'owner' });
  assert.equal((await tusFetch(loc, { method: 'HEAD', token: other })).status, 404);
  assert.equal((await tusFetch(loc, { method: 'DELETE', token: other })).status, 404);
  assert.equal((await patch(loc.replace(/.{4}$/, '0000'), 0, data)).status, 404);
  assert.equal((await tusFetch(`${TUS_PATH}..%2F..%2Fetc`, { method: 'HEAD' })).status, 404);
  assert.equal((await tusFetch(loc, { method: 'DELETE' })).status, 204);
  assert.equal((await tusFetch(loc, { method: 'HEAD' })).status, 404);
  assert.equal((await patch(loc, 0, data)).status, 404);
});

test('requests cut short: before the body, mid-body (kept), and mid-body with a checksum (discarded)', async () => {
  const { rawConnect } = await import('./support/server.mjs');
  const data = makeFile('pdf', 200000);
  const loc = await create(data);
  const head = (offset, length, extra = '') => `PATCH ${loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${owner}\r\n` +
    `Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: ${offset}\r\n` +
    `Content-Length: ${length}\r\n${extra}\r\n`;
  const offsetNow = async () => Number((await tusFetch(loc, { method: 'HEAD' })).headers.get('upload-offset'));
  // Gone right after the headers, before the server has even opened the upload.
  let c = await rawConnect(srv.port);
  c.write(head(0, 100000));
  c.close();
  await new Promise((r) => setTimeout(r, 300)); // its writer lets go of the upload
  assert.equal(await offsetNow(), 0);
  // Gone mid-body: what arrived is kept (resumable).
  c = await rawConnect(srv.port);
  c.socket.write(head(0, 100000));
  c.socket.write(data.subarray(0, 60000));
  await waitFor(async () => (await offsetNow()) === 60000, { what: 'the first 60000 bytes to be kept', timeout: 5000 });
  c.close();
  await new Promise((r) => setTimeout(r, 100));
  // Gone mid-body with an Upload-Checksum: nothing of it can be verified, so nothing is kept.
  const sum = `Upload-Checksum: sha256 ${createHash('sha256').update(data.subarray(60000, 160000)).digest('base64')}\r\n`;
  c = await rawConnect(srv.port);
  c.socket.write(head(60000, 100000, sum));
  c.socket.write(data.subarray(60000, 120000));
  await new Promise((r) => setTimeout(r, 200));
  c.close();
  await waitFor(async () => (await tusFetch(loc, { method: 'HEAD' })).status === 200 && (await offsetNow()) === 60000, { what: 'the cut request to be discarded' });
  // The offset is visible before the cut request's writer has let go of the upload; until it has,
  // a PATCH is told 423 upload_busy ("retry"), which a slower store (PostgreSQL) makes visible.
  let r;
  await waitFor(async () => (r = await patch(loc, 60000, data.subarray(60000))).status !== 423, { what: 'the upload to be free again' });
  assert.equal(r.status, 204, JSON.stringify(r.json));
  assert.match(r.headers.get('x-document-id'), /^\d+$/);
});
