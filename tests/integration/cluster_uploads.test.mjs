// Uploads across nodes: nodes share the upload directory and the store, so a partial upload
// started on one node resumes on another; a lease (an exclusive lock on the upload's file) keeps
// two nodes from writing one upload at once, and a node that dies lets go at once.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as tus from 'tus-js-client';
import { closeAll } from './support/stream.mjs';
import { checkinGuest, makeFile, download, sha256, openUpload, closeUploads, startMsg, TUS_PATH } from './support/upload.mjs';
import { redisAvailable, startRedis, startCluster, stopCluster, startNode } from './support/cluster.mjs';

const MIB = 1024 * 1024;
const HAVE_REDIS = redisAvailable();
const skip = HAVE_REDIS ? false : 'redis-server is not installed (make test installs it)';
let redis;
let nodes;
let owner;
let guest;

before(async () => {
  if (!HAVE_REDIS) return;
  redis = await startRedis();
  nodes = await startCluster(3, { redis, demo: true, env: { BELLHOP_UPLOAD_ACK_BYTES: String(MIB) } });
  owner = nodes[0].token({ org: 1, user: 1, role: 'owner' });
  guest = await checkinGuest(nodes[0], owner);
});
afterEach(async () => { await closeUploads(); await closeAll(); });
after(async () => {
  await closeUploads();
  await stopCluster(nodes);
  await redis?.stop();
});

test('an upload started on node A resumes on node B (busy while A still writes it) and completes; C serves the document', { skip }, async () => {
  const [a, b, c] = nodes;
  const data = makeFile('pdf', 4 * MIB + 4321);
  const c1 = await openUpload(a, { token: owner });
  const ready = await c1.request(startMsg(guest, data, { sha256: sha256(data) }));
  assert.equal(ready.type, 'ready', JSON.stringify(ready));
  await c1.sendChunks(data, 0, { chunk: 256 * 1024, to: 2 * MIB });
  const paused = await c1.request({ type: 'pause' });
  assert.equal(paused.offset, 2 * MIB);

  // A still holds the upload: B refuses to write it too (the lease), with the retryable code.
  const c2 = await openUpload(b, { token: owner });
  const busy = await c2.request({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(busy.code, 'upload_busy', JSON.stringify(busy));

  await c1.kill(); // the client moves on; A lets go of the upload
  const again = await c2.requestRetry({ type: 'resume', uploadId: ready.uploadId });
  assert.equal(again.type, 'ready', JSON.stringify(again));
  assert.equal(again.offset, 2 * MIB, 'B continues from what A made durable');
  await c2.sendChunks(data, again.offset, { chunk: 300 * 1000 });
  const done = await c2.nextType('completed');
  assert.equal(done.document.sha256, sha256(data));
  const got = await download(c, owner, done.document.id);
  assert.equal(got.status, 200);
  assert.equal(sha256(got.body), sha256(data));
});

test('a node killed mid-upload: tus resumes on another node from the durable offset', { skip }, async () => {
  const victim = await startNode(nodes);
  const data = makeFile('pdf', 3 * MIB + 99);
  const meta = { documentType: 'passport', guestId: String(guest.id), propertyId: String(guest.propertyId), fileName: 'p.pdf' };
  const opts = (node, extra = {}) => ({
    endpoint: `${node.base}${TUS_PATH}`, headers: { authorization: `Bearer ${owner}` }, metadata: meta,
    chunkSize: MIB, retryDelays: [], uploadSize: data.length, ...extra,
  });
  const up = new tus.Upload(data, opts(victim));
  await new Promise((resolve) => {
    up.options.onError = () => resolve();
    up.options.onSuccess = () => resolve();
    up.options.onProgress = (sent) => { if (sent > 1.5 * MIB) { up.options.onProgress = null; victim.kill().then(resolve); } };
    up.start();
  });
  const path = new URL(up.url).pathname;
  const again = new tus.Upload(data, opts(nodes[1], { uploadUrl: `${nodes[1].base}${path}` }));
  let resumedAt = null;
  again.options.onProgress = (sent) => { if (resumedAt === null) resumedAt = sent; };
  const res = await new Promise((resolve, reject) => {
    again.options.onError = reject;
    again.options.onSuccess = (p) => resolve(p);
    again.start();
  });
  assert.ok(resumedAt >= MIB, `resumed at ${resumedAt}, not from 0`);
  const docId = res.lastResponse.getHeader('X-Document-Id');
  const got = await download(nodes[2], owner, docId);
  assert.equal(sha256(got.body), sha256(data));
});
