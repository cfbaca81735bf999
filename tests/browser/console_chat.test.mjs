// Chat in Chromium: two browser contexts as two demo users in the same room see each other's
// presence, typing indicator, messages and read receipts; history pages back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../integration/support/server.mjs';
import { launch, login, screenshot } from './support/browser.mjs';

let srv;
let b;

before(async () => {
  srv = await startServer({ args: ['--demo', '--chat-history', '5', '--chat-offline-grace', '500'] });
  b = await launch();
});

after(async () => {
  await b?.close();
  await srv?.stop();
  assert.deepEqual(b?.errors ?? [], [], 'no page errors');
});

const userId = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('bellhop.session')).user.id);

test('two users: presence, typing, messages, read receipts and history paging', async () => {
  const meera = await b.page();
  const priya = await b.page();
  await login(meera, srv.base, 'manager@demo.bellhop.dev');
  await login(priya, srv.base, 'frontdesk@demo.bellhop.dev');
  const [meeraId, priyaId] = [await userId(meera), await userId(priya)];

  await meera.goto(`${srv.base}/#/chat`);
  await meera.locator('#chat-status[data-status="open"]').waitFor();
  await meera.locator('#chat-input:not([disabled])').waitFor();
  // Older messages, for paging: 7 from Meera before Priya opens the page (history size 5).
  for (let i = 1; i <= 7; i++) {
    await meera.getByRole('textbox', { name: 'Message' }).fill(`older ${i}`);
    await meera.getByRole('button', { name: 'Send' }).click();
    await meera.locator('#messages li.mine', { hasText: `older ${i}` }).waitFor();
  }

  await priya.goto(`${srv.base}/#/chat`);
  await priya.locator('#chat-input:not([disabled])').waitFor();
  // History: the newest 5 on join, the rest one click away.
  await priya.waitForFunction(() => document.querySelectorAll('#messages li').length === 5);
  await priya.getByRole('button', { name: 'Load older messages' }).click();
  await priya.waitForFunction(() => document.querySelectorAll('#messages li').length === 7);
  assert.equal(await priya.locator('#messages li').first().innerText().then((t) => t.includes('older 1')), true, 'oldest first');
  assert.equal(await priya.getByRole('button', { name: 'Load older messages' }).isHidden(), true);

  // Presence: each sees the other online.
  await meera.locator(`#people li[data-user-id="${priyaId}"][data-status="online"]`).waitFor();
  await priya.locator(`#people li[data-user-id="${meeraId}"][data-status="online"]`).waitFor();

  // Read receipts: Priya's page read Meera's messages on join.
  await meera.locator('#messages li.mine').last().locator('.receipt', { hasText: 'Seen by Priya Front Desk' }).waitFor();

  // Typing: Priya types, Meera sees it; sending ends it.
  await priya.getByRole('textbox', { name: 'Message' }).pressSequentially('hello Meera', { delay: 10 });
  await meera.locator('#typing', { hasText: 'Priya Front Desk is typing…' }).waitFor();
  await screenshot(meera, 'chat-typing');
  await priya.getByRole('button', { name: 'Send' }).click();
  await meera.locator('#messages li', { hasText: 'hello Meera' }).waitFor();
  await meera.waitForFunction(() => document.getElementById('typing').textContent === '');

  // Meera's page is visible, so it marks the message read, and Priya sees the receipt.
  await priya.locator('#messages li.mine', { hasText: 'hello Meera' }).locator('.receipt', { hasText: 'Seen by Meera Manager' }).waitFor();

  // And back.
  await meera.getByRole('textbox', { name: 'Message' }).pressSequentially('hi Priya', { delay: 10 });
  await priya.locator('#typing', { hasText: 'Meera Manager is typing…' }).waitFor();
  await meera.getByRole('textbox', { name: 'Message' }).press('Enter');
  await priya.locator('#messages li', { hasText: 'hi Priya' }).waitFor();
  await meera.locator('#messages li.mine', { hasText: 'hi Priya' }).locator('.receipt', { hasText: 'Seen by Priya Front Desk' }).waitFor();
  await screenshot(priya, 'chat');

  // A direct room from the people list: Meera opens it, Priya gets an unread badge for it.
  await meera.getByRole('button', { name: 'Message Priya Front Desk directly' }).click();
  const dm = `dm-${Math.min(meeraId, priyaId)}-${Math.max(meeraId, priyaId)}`;
  await meera.locator(`#rooms button[data-room-id="${dm}"][aria-current="true"]`).waitFor();
  await meera.locator('#chat-input:not([disabled])').waitFor();
  await meera.getByRole('textbox', { name: 'Message' }).fill('just between us');
  await meera.getByRole('button', { name: 'Send' }).click();
  await meera.locator('#messages li.mine', { hasText: 'just between us' }).waitFor();
  await priya.locator(`#rooms button[data-room-id="${dm}"] .unread`, { hasText: '1' }).waitFor({ timeout: 10000 }); // rooms are refreshed every 4 s
  await priya.locator(`#rooms button[data-room-id="${dm}"]`).click();
  await priya.locator('#messages li', { hasText: 'just between us' }).waitFor();

  // Leaving: Priya closes the page; after the grace period Meera sees her offline.
  await priya.close();
  await meera.locator(`#people li[data-user-id="${priyaId}"][data-status="offline"]`).waitFor({ timeout: 5000 });
});
