// The chat page: rooms (with unread counts), history paging, messages, the typing indicator,
// who is online, and read receipts under your own messages.
import { ChatClient, canonicalRoomId } from '../lib/chat.js';
import { h, clear, fmtTime } from './dom.js';

const ROOMS_REFRESH_MS = 4000;

export function renderChat(main, app) {
  const me = app.session.user;
  const chat = new ChatClient({ getToken: () => app.session.token });
  let room = null; // current room id
  let nextBefore = null;
  const messages = new Map(); // id -> message, current room

  const roomList = h('ul', { class: 'rooms', id: 'rooms', 'aria-label': 'Rooms' });
  const title = h('h2', { class: 'h3', id: 'room-title' }, 'Choose a room');
  const older = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Load older messages');
  const list = h('ol', { class: 'messages', id: 'messages', 'aria-live': 'polite', 'aria-label': 'Messages' });
  const typing = h('p', { class: 'typing', id: 'typing', 'aria-live': 'polite' });
  const input = h('input', { id: 'chat-input', autocomplete: 'off', maxlength: 4000, disabled: true });
  const send = h('button', { type: 'submit', disabled: true }, 'Send');
  const composer = h('form', { class: 'composer', 'aria-label': 'Send a message' },
    h('label', { for: 'chat-input', class: 'sr-only' }, 'Message'), input, send);
  const people = h('ul', { class: 'people', id: 'people', 'aria-label': 'People in this room' });
  const status = h('p', { class: 'hint', id: 'chat-status', role: 'status' }, 'Connecting…');

  const roomNames = new Map([['org', 'Everyone']]);
  const unread = new Map();

  function renderRooms() {
    clear(roomList);
    for (const [id, name] of roomNames) {
      const n = unread.get(id) || 0;
      const b = h('button', { type: 'button', class: 'room', 'aria-current': id === room ? 'true' : null, dataset: { roomId: id } },
        name, n ? h('span', { class: 'unread', 'aria-label': `${n} unread` }, String(n)) : null);
      b.addEventListener('click', () => openRoom(id));
      roomList.append(h('li', {}, b));
    }
  }

  function receiptText(m) {
    const r = chat.rooms.get(room);
    if (!r || m.userId !== me.id) return '';
    const readers = [...r.members.values()].filter((u) => u.userId !== me.id && (u.lastReadId ?? 0) >= m.id).map((u) => u.userName);
    return readers.length ? `Seen by ${readers.join(', ')}` : 'Sent';
  }

  function msgNode(m) {
    const mine = m.userId === me.id;
    return h('li', { class: `msg${mine ? ' mine' : ''}`, dataset: { id: String(m.id), userId: String(m.userId) } },
      h('div', { class: 'meta' }, h('strong', {}, m.userName), ' ', h('time', { datetime: m.timestamp }, fmtTime(m.timestamp)), m.edited ? ' (edited)' : ''),
      h('div', { class: 'text' }, m.deleted ? h('em', {}, 'deleted') : m.text),
      mine ? h('div', { class: 'receipt', 'aria-label': 'Read receipt' }, receiptText(m)) : null);
  }

  function upsert(m) {
    messages.set(m.id, m);
    const existing = list.querySelector(`li[data-id="${m.id}"]`);
    if (existing) { existing.replaceWith(msgNode(m)); return; }
    // keep id order: most arrive last
    const after = [...list.children].find((li) => Number(li.dataset.id) > m.id);
    list.insertBefore(msgNode(m), after ?? null);
  }

  function refreshReceipts() {
    for (const li of list.querySelectorAll('li.mine')) {
      const m = messages.get(Number(li.dataset.id));
      if (m) li.querySelector('.receipt').textContent = receiptText(m);
    }
  }

  function renderPeople() {
    clear(people);
    const r = chat.rooms.get(room);
    if (!r) return;
    const order = { online: 0, away: 1, offline: 2 };
    const members = [...r.members.values()].sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3) || String(a.userName).localeCompare(b.userName));
    for (const u of members) {
      let dm = null;
      if (u.userId !== me.id) {
        dm = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Message ${u.userName} directly` }, 'DM');
        dm.addEventListener('click', () => {
          const id = canonicalRoomId(`dm-${me.id}-${u.userId}`);
          roomNames.set(id, `Direct: ${u.userName}`);
          openRoom(id);
        });
      }
      people.append(h('li', { dataset: { userId: String(u.userId), status: u.status || 'offline' } },
        h('span', { class: `dot ${u.status || 'offline'}`, 'aria-hidden': 'true' }), `${u.userName}${u.userId === me.id ? ' (you)' : ''}`,
        h('span', { class: 'hint' }, ` ${u.status || 'offline'}`), dm));
    }
  }

  function renderTyping() {
    const r = chat.rooms.get(room);
    const names = r ? [...r.typing].filter(([id]) => id !== me.id).map(([, n]) => n) : [];
    typing.textContent = names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
  }

  function markRead() {
    if (!room || document.visibilityState !== 'visible') return;
    const last = [...messages.values()].filter((m) => !m.deleted).reduce((a, m) => Math.max(a, m.id), 0);
    const r = chat.rooms.get(room);
    if (last > 0 && (!r || r.lastReadId < last)) chat.markRead(room, last).catch(() => {});
    unread.set(room, 0);
    renderRooms();
  }

  async function openRoom(id) {
    room = id;
    messages.clear();
    clear(list);
    title.textContent = roomNames.get(id) ?? id;
    input.disabled = true;
    send.disabled = true;
    renderRooms();
    try {
      const j = await chat.join(id);
      if (room !== id) return;
      for (const m of j.messages) upsert(m);
      nextBefore = j.nextBefore;
      older.hidden = !j.hasMore;
      input.disabled = false;
      send.disabled = false;
      renderPeople();
      renderTyping();
      markRead();
      list.lastElementChild?.scrollIntoView({ block: 'end' });
    } catch (err) {
      status.textContent = `Could not join ${id}: ${err.code ?? err.message}`;
    }
  }

  older.addEventListener('click', async () => {
    if (!room || !nextBefore) return;
    try {
      const res = await chat.history(room, { before: nextBefore });
      for (const m of res.messages) upsert(m);
      nextBefore = res.nextBefore;
      older.hidden = !res.hasMore;
    } catch (err) { status.textContent = `History failed: ${err.message}`; }
  });

  input.addEventListener('input', () => { if (room && input.value.trim()) chat.typingStart(room); else if (room) chat.typingStop(room); });
  composer.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value;
    if (!room || !text.trim()) return;
    input.value = '';
    try {
      const ack = await chat.send(room, text);
      if (ack.roomId === room) upsert(ack.message);
    } catch (err) {
      status.textContent = `Not sent: ${err.code ?? ''} ${err.message}`;
      input.value = text;
    }
  });

  chat.on('status', (s) => { status.textContent = s.status === 'open' ? `Connected as ${me.name}` : `Chat: ${s.status}`; status.dataset.status = s.status; });
  chat.on('joined', (j) => { if (j.roomId === room) { for (const m of j.messages) upsert(m); renderPeople(); refreshReceipts(); } });
  chat.on('message', (m) => {
    if (m.roomId === room) { upsert(m.message); markRead(); list.lastElementChild?.scrollIntoView({ block: 'end' }); } else {
      unread.set(m.roomId, (unread.get(m.roomId) || 0) + 1);
      if (!roomNames.has(m.roomId)) roomNames.set(m.roomId, m.roomId);
      renderRooms();
    }
  });
  chat.on('message_edited', (m) => { if (m.roomId === room) upsert(m.message); });
  chat.on('message_deleted', (m) => { if (m.roomId === room) upsert(m.message); });
  chat.on('typing', (t) => { if (t.roomId === room) renderTyping(); });
  chat.on('presence', () => renderPeople());
  chat.on('read', (r) => { if (r.roomId === room) refreshReceipts(); });
  chat.on('error', (err) => { if (err.code && err.code !== 'disconnected') status.textContent = `Chat error: ${err.code}`; });
  const onVisible = () => { if (document.visibilityState === 'visible') { chat.setPresence('online'); markRead(); } else chat.setPresence('away'); };
  document.addEventListener('visibilitychange', onVisible);

  main.append(h('h2', {}, 'Chat'),
    h('div', { class: 'chat-layout' },
      h('nav', { class: 'card', 'aria-label': 'Chat rooms' }, h('h2', { class: 'h3' }, 'Rooms'), roomList),
      h('section', { class: 'card chat-main', 'aria-labelledby': 'room-title' }, title, older, list, typing, composer, status),
      h('aside', { class: 'card', 'aria-labelledby': 'people-title' }, h('h2', { class: 'h3', id: 'people-title' }, 'People'), people)));

  // Messages reach only connections that joined the room, so rooms this page has not opened
  // (a new direct room, say) are found, with their unread counts, by asking every few seconds.
  let roomsTimer = null;
  let closed = false;
  async function refreshRooms() {
    roomsTimer = null;
    try {
      const rooms = await app.api.get('/v2/collaboration/rooms');
      if (closed) return;
      for (const r of rooms.items) {
        if (!roomNames.has(r.roomId)) roomNames.set(r.roomId, r.kind === 'dm' ? `Direct: ${r.roomId}` : r.roomId);
        if (r.roomId !== room && !chat.rooms.has(r.roomId)) unread.set(r.roomId, r.unreadCount);
      }
      renderRooms();
    } catch { /* the next round may work */ }
    if (!closed) roomsTimer = setTimeout(refreshRooms, ROOMS_REFRESH_MS);
  }

  (async () => {
    try {
      const props = await app.api.get('/properties');
      for (const p of props.items) roomNames.set(`property-${p.id}`, p.name);
    } catch (err) { status.textContent = `Could not load rooms: ${err.message}`; }
    await refreshRooms();
    try { await chat.connect(); } catch (err) { status.textContent = `Chat unavailable: ${err.message}`; return; }
    openRoom(new URLSearchParams(location.hash.split('?')[1] || '').get('room') || 'org');
  })();

  return () => { closed = true; if (roomsTimer) clearTimeout(roomsTimer); document.removeEventListener('visibilitychange', onVisible); chat.close(); };
}
