// Bad input on the upload stream: each is a clear, typed error, and nothing is stored.
//   wrong checksum, magic bytes not matching the type, oversize, negative and overlapping offsets,
//   a chunk before start, unknown and other organisations' upload ids, path-traversal file names,
//   invalid Aadhaar and PAN numbers, guests and properties out of reach; and each upload limit of
//   the configuration (per-type size, chunk size, uploads in progress per user).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer } from './support/server.mjs';
import {
  openUpload, checkinGuest, makeFile, startMsg, sha256, closeUploads, chunkFrame,
} from './support/upload.mjs';

let srv;
let owner;
let guest;

before(async () => {
  srv = await startServer({
    args: ['--demo', '--upload-max-id-document', '300000', '--upload-max-image', '200000',
      '--upload-chunk-max', '65536', '--upload-max-active', '3'],
  });
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
  guest = await checkinGuest(srv, owner);
});
afterEach(closeUploads);
after(async () => { await srv?.stop(); });

const files = (...p) => {
  const d = join(srv.dataDir, ...p);
  return existsSync(d) ? readdirSync(d) : [];
};
async function documentCount(g = guest) {
  const r = await (await srv.fetch(`/v2/documents?guestId=${g.id}`, { token: owner })).json();
  return r.items.length;
}
/** Starts an upload and returns [client, ready]. */
async function started(data, extra = {}, token = owner) {
  const c = await openUpload(srv, { token });
  const ready = await c.request(startMsg(guest, data, extra));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  return [c, ready];
}
function expectError(m, code, re) {
  assert.equal(m.type, 'error', JSON.stringify(m));
  assert.equal(m.code, code, JSON.stringify(m));
  assert.ok(m.message.length > 0);
  if (re) assert.match(m.message, re);
}

test('a wrong sha256 is checksum_mismatch at completion, and the data is discarded', async () => {
  const before = await documentCount();
  const data = makeFile('pdf', 100000);
  const [c, ready] = await started(data, { sha256: sha256(Buffer.from('something else')) });
  await c.sendChunks(data, 0, { chunk: 60000 });
  expectError(await c.answer(), 'checksum_mismatch');
  assert.ok(!files('uploads', 'partial').includes(ready.uploadId));
  assert.ok(!files('documents', '1').includes(ready.uploadId));
  assert.equal(await documentCount(), before);
  expectError(await c.request({ type: 'resume', uploadId: ready.uploadId }), 'not_found');
});

test('bytes that are not what the type allows are type_mismatch, and discarded', async () => {
  const before = await documentCount();
  for (const [kind, extra] of [
    ['exe', { mimeType: 'application/octet-stream' }], // not a document at all
    ['csv', { mimeType: 'application/octet-stream' }], // text is not a passport scan
    ['pdf', { documentType: 'image', mimeType: 'image/png' }], // a PDF is not an image
    ['png', { mimeType: 'image/jpeg' }], // a PNG declared as JPEG
    ['pdf', { documentType: 'csv', mimeType: 'text/csv', fileName: 'x.csv' }],
    ['csv', { documentType: 'excel', mimeType: 'application/octet-stream', fileName: 'x.xlsx' }],
  ]) {
    const data = makeFile(kind, 5000);
    const [c, ready] = await started(data, extra);
    await c.sendChunks(data, 0);
    expectError(await c.answer(), 'type_mismatch');
    assert.ok(!files('uploads', 'partial').includes(ready.uploadId), kind);
  }
  assert.equal(await documentCount(), before);
});

test('the kinds each type allows are accepted: HEIC, CSV, XLSX', async () => {
  for (const [kind, extra] of [
    ['heic', { documentType: 'visa', mimeType: 'image/heic', fileName: 'v.heic' }],
    ['csv', { documentType: 'csv', mimeType: 'text/csv', fileName: 'rooms.csv' }],
    ['xlsx', { documentType: 'excel', fileName: 'rooms.xlsx', mimeType: '' }],
  ]) {
    const data = makeFile(kind, 3000);
    const [c] = await started(data, extra);
    await c.sendChunks(data, 0);
    const done = await c.answer();
    assert.equal(done.type, 'completed', `${kind}: ${JSON.stringify(done)}`);
    assert.equal(done.document.mimeType, { heic: 'image/heic', csv: 'text/csv', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }[kind]);
  }
});

test('oversize: over the type limit at start, and chunks past the declared size', async () => {
  const c = await openUpload(srv, { token: owner });
  expectError(await c.request(startMsg(guest, { length: 300001 })), 'too_large', /300000 byte limit for passport/);
  expectError(await c.request(startMsg(guest, { length: 200001 }, { documentType: 'image' })), 'too_large', /limit for image/);
  const data = makeFile('pdf', 1000);
  const [c2] = await started(data);
  c2.send(chunkFrame(0, Buffer.concat([data, Buffer.alloc(10)])));
  expectError(await c2.answer(), 'too_large');
  assert.equal(files('uploads', 'partial').length >= 1, true);
});

test('negative, overlapping and gapped offsets are refused and change nothing', async () => {
  const data = makeFile('pdf', 20000);
  const [c, ready] = await started(data, { sha256: sha256(data) });
  c.send(chunkFrame(-5, data.subarray(0, 100)));
  const neg = await c.answer();
  expectError(neg, 'invalid_offset');
  assert.equal(neg.expectedOffset, 0);
  c.send(chunkFrame(0, data.subarray(0, 10000)));
  c.send(chunkFrame(5000, data.subarray(5000, 15000))); // overlaps
  const ov = await c.answer();
  expectError(ov, 'offset_mismatch');
  assert.equal(ov.expectedOffset, 10000);
  c.send(chunkFrame(12000, data.subarray(12000))); // leaves a gap
  expectError(await c.answer(), 'offset_mismatch');
  c.send(Buffer.from([1, 2, 3])); // no room for an offset
  expectError(await c.answer(), 'invalid_chunk');
  // The upload is intact: the rest completes it with the right checksum.
  c.send(chunkFrame(10000, data.subarray(10000)));
  const done = await c.answer();
  assert.equal(done.type, 'completed', JSON.stringify(done));
  assert.equal(done.uploadId, ready.uploadId);
});

test('a chunk before start, and messages out of order, are typed errors', async () => {
  const c = await openUpload(srv, { token: owner });
  c.send(chunkFrame(0, Buffer.from('hello')));
  expectError(await c.answer(), 'no_upload');
  expectError(await c.request({ type: 'pause' }), 'no_upload');
  expectError(await c.request({ type: 'resume' }), 'no_upload');
  expectError(await c.request({ type: 'cancel' }), 'no_upload');
  expectError(await c.request({ type: 'fly' }), 'unknown_type');
  assert.equal((await c.request({ type: 'ping' })).type, 'pong');
  const data = makeFile('pdf', 5000);
  assert.equal((await c.request(startMsg(guest, data))).type, 'ready');
  expectError(await c.request(startMsg(guest, data)), 'upload_in_progress');
  expectError(await c.request({ type: 'resume' }), 'not_paused');
  await c.request({ type: 'cancel' });
  // Not JSON: the connection closes with 4400.
  c.send('{"type": ');
  expectError(await c.answer(), 'invalid_message');
  assert.equal((await c.waitClose()).code, 4400);
});

test('unknown upload ids and other organisations\' ids are not_found', async () => {
  const data = makeFile('pdf', 5000);
  const [c, ready] = await started(data);
  await c.request({ type: 'pause' });
  await c.close();
  const other = srv.token({ org: 2, user: 1, role: 'owner' });
  const o = await openUpload(srv, { token: other });
  expectError(await o.request({ type: 'resume', uploadId: ready.uploadId }), 'not_found');
  expectError(await o.request({ type: 'cancel', uploadId: ready.uploadId }), 'not_found');
  expectError(await o.request({ type: 'resume', uploadId: 'f'.repeat(32) }), 'not_found');
  expectError(await o.request({ type: 'resume', uploadId: '../../etc/passwd' }), 'not_found');
  // Still there for its own organisation.
  const mine = await openUpload(srv, { token: owner });
  const again = await mine.requestRetry({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(again.type, 'ready', JSON.stringify(again));
  await mine.request({ type: 'cancel' });
});

test('path-traversal and malformed file names are refused', async () => {
  const c = await openUpload(srv, { token: owner });
  const data = makeFile('pdf', 100);
  for (const name of ['../../etc/passwd', '..', 'a/b.pdf', '..\\..\\boot.ini', 'bad\nname.pdf', '', 'x'.repeat(256)]) {
    expectError(await c.request(startMsg(guest, data, { fileName: name })), 'invalid_field', /^fileName: /);
  }
  assert.deepEqual(files('uploads', 'partial').filter((f) => !/^[0-9a-f]{32}$/.test(f)), []);
  // Names with quotes and non-ASCII are fine, and made safe for Content-Disposition.
  const [c2] = await started(data, { fileName: 'Pässe "alt"; x.pdf' });
  await c2.sendChunks(data, 0);
  const done = await c2.answer();
  assert.equal(done.document.fileName, 'Pässe "alt"; x.pdf');
  const res = await srv.fetch(`/v2/documents/${done.document.id}/content`, { token: owner });
  assert.equal(res.headers.get('content-disposition'),
    'attachment; filename="P_sse _alt_; x.pdf"; filename*=UTF-8\'\'P%C3%A4sse%20%22alt%22%3B%20x.pdf');
  await res.arrayBuffer();
});

test('invalid Aadhaar and PAN numbers are refused before any data', async () => {
  const c = await openUpload(srv, { token: owner });
  const data = makeFile('pdf', 100);
  for (const n of ['234567890123', '123456789012', '034567890128', '23456789012', '2345678901245', 'abcd56789012']) {
    expectError(await c.request(startMsg(guest, data, { documentType: 'aadhaar', documentNumber: n })), 'invalid_field', /^documentNumber: .*Verhoeff/);
  }
  for (const n of ['ABCDE1234', 'ABCD51234F', '12345ABCDE', 'ABCDE12345']) {
    expectError(await c.request(startMsg(guest, data, { documentType: 'pan_card', documentNumber: n })), 'invalid_field', /^documentNumber: .*AAAAA9999A/);
  }
  assert.ok(!srv.stderr.includes('234567890123'), 'numbers never reach the log');
});

test('metadata checks: type, ids, size, checksum format, MIME', async () => {
  const c = await openUpload(srv, { token: owner });
  const data = makeFile('pdf', 100);
  expectError(await c.request(startMsg(guest, data, { documentType: 'selfie' })), 'invalid_field', /^documentType: one of aadhaar/);
  expectError(await c.request(startMsg(guest, data, { guestId: 0 })), 'invalid_field', /^guestId/);
  expectError(await c.request(startMsg(guest, data, { propertyId: 'x' })), 'invalid_field', /^propertyId/);
  expectError(await c.request(startMsg(guest, data, { size: -1 })), 'invalid_field', /^size/);
  expectError(await c.request(startMsg(guest, data, { sha256: 'abc' })), 'invalid_field', /^sha256/);
  expectError(await c.request(startMsg(guest, data, { mimeType: 'not a type' })), 'invalid_field', /^mimeType/);
  expectError(await c.request(startMsg(guest, data, { guestId: 99999 })), 'not_found');
  expectError(await c.request(startMsg(guest, data, { propertyId: 2 })), 'invalid_field', /another property/);
});

test('guests and properties outside the caller\'s reach', async () => {
  const data = makeFile('pdf', 100);
  const g2 = await checkinGuest(srv, owner, { propertyId: 2 });
  const desk = srv.token({ org: 1, user: 5, role: 'front_desk', properties: [1] });
  const c = await openUpload(srv, { token: desk });
  expectError(await c.request(startMsg(g2, data)), 'property_forbidden');
  const other = srv.token({ org: 2, user: 1, role: 'owner' });
  const o = await openUpload(srv, { token: other });
  expectError(await o.request(startMsg(guest, data)), 'not_found', /guest/);
  // Roles without guest access cannot open the stream at all.
  const hk = srv.token({ org: 1, user: 6, role: 'housekeeping', properties: [1] });
  await assert.rejects(openUpload(srv, { token: hk }), (e) => e.status === 403);
  await assert.rejects(openUpload(srv, {}), (e) => e.status === 401);
});

test('limits: chunks over --upload-chunk-max close with 1009; --upload-max-active per user', async () => {
  const data = makeFile('pdf', 100000);
  const [c] = await started(data);
  c.send(chunkFrame(0, data.subarray(0, 65537)));
  assert.equal((await c.waitClose()).code, 1009);
  const user = srv.token({ org: 1, user: 3, role: 'manager', properties: [1, 2] });
  const cs = [];
  for (let i = 0; i < 3; i++) cs.push(await started(data, {}, user));
  const c4 = await openUpload(srv, { token: user });
  expectError(await c4.request(startMsg(guest, data)), 'too_many_uploads');
  await cs[0][0].request({ type: 'cancel' });
  assert.equal((await c4.request(startMsg(guest, data))).type, 'ready');
});
