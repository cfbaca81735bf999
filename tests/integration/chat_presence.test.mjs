// Presence per user across all of their connections: online while any is active, away when the
// client says so or after the idle time, offline only once the last connection has been gone for
// the grace period, so that reloading one tab (or a quick reconnect) never flickers.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { closeAll, ISO_RE } from './support/stream.mjs';
import { openChat, join, nextPresence, quiet, demoTokens } from './support/chat.mjs';

const GRACE_MS = 700;
const AWAY_MS = 400;
let srv; // long idle time: explicit presence only
let idle; // short idle time
let tok;
let itok;
before(async () => {
  srv = await startServer({ args: ['--demo', '--chat-offline-grace', String(GRACE_MS)], workers: 2 });
  idle = await startServer({ args: ['--demo', '--chat-away', String(AWAY_MS), '--chat-offline-grace', '0'] });
  tok = demoTokens(srv);
  itok = demoTokens(idle);
});
after(async () => { await srv.stop(); await idle.stop(); });
afterEach(async () => { await closeAll(); });

const isUser = (id) => (m) => m.type === 'presence' && m.userId === id;

/** An observer in the org room: it hears every presence change of the organisation. */
async function observer(s, token) {
  const o = await openChat(s, { token });
  assert.equal((await join(o, 'org')).type, 'joined');
  return o;
}

test('online -> away -> online -> offline after the grace period, across tabs', async () => {
  const o = await observer(srv, tok.owner);
  const tab1 = await openChat(srv, { token: tok.manager });
  const on = await nextPresence(o, 3, 'online');
  assert.equal(on.userName, 'Meera Manager');
  assert.match(on.lastActiveAt, ISO_RE);
  const tab2 = await openChat(srv, { token: tok.manager }); // a second tab: no news
  tab1.send({ type: 'presence', status: 'away' });
  assert.ok(await quiet(o, isUser(3), 200), 'one tab away, the other active: still online');
  tab2.send({ type: 'presence', status: 'away' });
  await nextPresence(o, 3, 'away');
  tab2.send({ type: 'presence', status: 'online' });
  await nextPresence(o, 3, 'online');
  // Both tabs go; offline only after the grace period.
  await tab1.close();
  await tab2.close();
  const t0 = Date.now();
  const off = await nextPresence(o, 3, 'offline', GRACE_MS + 2000);
  const waited = Date.now() - t0;
  assert.ok(waited >= GRACE_MS - 100, `offline after ${waited} ms, grace ${GRACE_MS}`);
  assert.match(off.lastActiveAt, ISO_RE);
  o.assertSeqs();
});

test('no flicker: one tab reconnects quickly while another stays', async () => {
  const o = await observer(srv, tok.owner);
  const stay = await openChat(srv, { token: tok.frontdesk });
  await nextPresence(o, 5, 'online');
  let tab = await openChat(srv, { token: tok.frontdesk });
  for (let i = 0; i < 3; i++) {
    await tab.close();
    tab = await openChat(srv, { token: tok.frontdesk });
  }
  assert.ok(await quiet(o, isUser(5), GRACE_MS + 300), 'no presence change at all');
  await stay.close();
  await tab.close();
  await nextPresence(o, 5, 'offline', GRACE_MS + 2000);
});

test('no flicker: the only tab reloads within the grace period', async () => {
  const o = await observer(srv, tok.owner);
  let tab = await openChat(srv, { token: tok.staff });
  await nextPresence(o, 7, 'online');
  await tab.close();
  await new Promise((r) => setTimeout(r, GRACE_MS / 3));
  tab = await openChat(srv, { token: tok.staff });
  assert.ok(await quiet(o, isUser(7), GRACE_MS + 300), 'never offline');
  await tab.close();
  await nextPresence(o, 7, 'offline', GRACE_MS + 2000);
});

test('presence reaches the rooms the user is in, and join lists members with presence', async () => {
  const mgr = await openChat(srv, { token: tok.manager });
  assert.equal((await join(mgr, 'property-2')).type, 'joined');
  const st = await openChat(srv, { token: tok.staff });
  const j = await join(st, 'property-2');
  const m3 = j.members.find((m) => m.userId === 3);
  assert.ok(m3, JSON.stringify(j.members));
  assert.equal(m3.status, 'online');
  assert.equal(m3.userName, 'Meera Manager');
  assert.match(m3.lastActiveAt, ISO_RE);
  // The manager learns that the staff member is in the room now.
  const p = await nextPresence(mgr, 7, 'online');
  assert.equal(p.roomId, 'property-2');
  st.send({ type: 'presence', status: 'away' });
  await nextPresence(mgr, 7, 'away');
});

test('an idle connection turns away on its own; activity brings it back', async () => {
  const o = await observer(idle, itok.owner);
  assert.equal(o.ready.limits.awayAfterMs, AWAY_MS);
  const u = await openChat(idle, { token: itok.frontdesk });
  const t0 = Date.now();
  await nextPresence(o, 5, 'online');
  await nextPresence(o, 5, 'away', AWAY_MS + 2000);
  const waited = Date.now() - t0;
  assert.ok(waited >= AWAY_MS - 50, `away after ${waited} ms, idle time ${AWAY_MS}`);
  await join(u, 'property-1');
  u.send({ type: 'typing', roomId: 'property-1', state: 'start' });
  await nextPresence(o, 5, 'online');
  // Grace 0: offline as soon as the connection is gone.
  await u.close();
  await nextPresence(o, 5, 'offline', 1000);
});
