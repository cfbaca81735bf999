// Document uploads in Chromium: an upload paused, the page reloaded, the same file chosen again
// and resumed from the server's offset, completing with the right SHA-256 (computed in the page
// by web/lib/sha256.js and checked by the server).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../integration/support/server.mjs';
import { makeFile, sha256 } from '../integration/support/upload.mjs';
import { launch, login, screenshot } from './support/browser.mjs';

let srv;
let b;
const dir = mkdtempSync(join(tmpdir(), 'bellhop-upload-file-'));

before(async () => {
  srv = await startServer({ args: ['--demo'] });
  b = await launch();
});

after(async () => {
  await b?.close();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(b?.errors ?? [], [], 'no page errors');
});

test('pause, reload, resume from the server offset, complete with the right SHA-256; cancel deletes', async () => {
  const page = await b.page();
  const frames = [];
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/v2/documents/upload/stream')) return;
    ws.on('framereceived', (f) => { try { frames.push(JSON.parse(f.payload)); } catch { /* binary */ } });
  });
  const bytes = makeFile('pdf', 3 * 1024 * 1024 + 123);
  const path = join(dir, 'passport.pdf');
  writeFileSync(path, bytes);
  const token = srv.token({ org: 1, user: 5, role: 'front_desk', properties: [1] });
  const res = await srv.fetch('/guests/checkin', { method: 'POST', token, json: { propertyId: 1, name: 'Upload Guest', roomNumber: '102' } });
  const { guest } = await res.json();

  await login(page, srv.base, 'frontdesk@demo.bellhop.dev');
  await page.goto(`${srv.base}/#/uploads`);
  await page.getByLabel('Guest', { exact: true }).selectOption(String(guest.id));
  await page.getByLabel('Document type').selectOption('passport');
  await page.getByLabel('File', { exact: true }).setInputFiles(path);
  await page.getByLabel('Speed limit').selectOption('1048576'); // slow enough to pause halfway
  await page.getByRole('button', { name: 'Start upload' }).click();
  await page.waitForFunction(() => Number(document.getElementById('upload-progress').value) >= 15, null, { timeout: 15000 });
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.locator('#upload-status', { hasText: 'Paused at' }).waitFor({ timeout: 10000 });
  const paused = frames.find((f) => f.type === 'paused');
  assert.ok(paused && paused.offset > 0 && paused.offset < bytes.length, JSON.stringify(paused));
  const start = frames.find((f) => f.type === 'ready');
  await screenshot(page, 'upload-paused');

  await page.reload();
  const item = page.locator(`#pending-uploads li[data-upload-id="${start.uploadId}"]`);
  await item.waitFor();
  // Resume refuses a different file (hashed in the page first).
  const wrong = join(dir, 'other.pdf');
  writeFileSync(wrong, makeFile('pdf', bytes.length));
  await item.locator('input[type=file]').setInputFiles(wrong);
  await item.getByRole('button', { name: 'Resume' }).click();
  await page.locator('#upload-status', { hasText: 'file_mismatch' }).waitFor({ timeout: 10000 });
  await page.locator(`#pending-uploads li[data-upload-id="${start.uploadId}"] input[type=file]`).setInputFiles(path);
  await page.locator(`#pending-uploads li[data-upload-id="${start.uploadId}"]`).getByRole('button', { name: 'Resume' }).click();
  await page.locator('#upload-status', { hasText: 'Completed' }).waitFor({ timeout: 20000 });
  const resumedReady = frames.filter((f) => f.type === 'ready').at(-1);
  assert.equal(resumedReady.uploadId, start.uploadId);
  assert.equal(resumedReady.offset, paused.offset, 'continued from the durable offset the server kept');
  const want = sha256(bytes);
  assert.equal(await page.locator('#upload-status').getAttribute('data-sha256'), want);
  await page.locator(`#documents tr[data-sha256="${want}"]`).waitFor();
  const docs = await (await srv.fetch(`/v2/documents?guestId=${guest.id}`, { token })).json();
  assert.equal(docs.items.length, 1);
  assert.equal(docs.items[0].sha256, want);
  assert.equal(docs.items[0].size, bytes.length);
  assert.equal(await page.locator('#pending-uploads li[data-upload-id]').count(), 0, 'nothing left unfinished');
  await screenshot(page, 'uploads');

  // Cancel: start another, cancel it: the server forgets it.
  await page.getByLabel('File', { exact: true }).setInputFiles(path);
  await page.getByLabel('Speed limit').selectOption('262144');
  await page.getByRole('button', { name: 'Start upload' }).click();
  await page.waitForFunction(() => Number(document.getElementById('upload-progress').value) > 0, null, { timeout: 15000 });
  const second = frames.filter((f) => f.type === 'ready').at(-1);
  assert.notEqual(second.uploadId, start.uploadId);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('#upload-status', { hasText: 'Cancelled' }).waitFor({ timeout: 10000 });
  const head = await srv.fetch(`/v2/documents/uploads/${second.uploadId}`, { method: 'HEAD', token, headers: { 'Tus-Resumable': '1.0.0' } });
  assert.equal(head.status, 404, 'the cancelled upload is gone');
});
