// The chat client: GET /v2/collaboration/chat/stream (docs/PROTOCOL.md, "Collaboration"), the
// seed's CollaborativeChat without the React.
//
//   const chat = new ChatClient({ token });
//   await chat.connect();
//   const joined = await chat.join('property-1');          // history, members, read positions
//   chat.on('message', (m) => render(m.message));
//   const ack = await chat.send('property-1', 'hello');    // resolves once stored
//   chat.typingStart('property-1');                        // throttled; stops by itself
//   await chat.markRead('property-1', ack.id);
//
// - Retry-safe sends: each message gets its clientMsgId once; after a reconnect every message not
//   yet acknowledged is sent again with the same id, and the server answers the original ack.
// - Reconnects with backoff and jitter; on `ready` it rejoins every room (the `joined` answers
//   carry what was missed) before resending.
// - Transport and timers are injectable, as in realtime.js.
import { createBackoff } from './backoff.js';
import { wsBase } from './realtime.js';

export const ROOM_ID_RE = /^(org|property-[1-9]\d{0,17}|task-[1-9]\d{0,17}|dm-[1-9]\d{0,17}-[1-9]\d{0,17})$/;
const CLIENT_MSG_ID_RE = /^[\x21-\x7e]{1,64}$/;
const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1009]);
const EVENT_TYPES = ['ready', 'status', 'message', 'ack', 'message_edited', 'message_deleted', 'typing', 'presence',
  'read', 'joined', 'left', 'error'];

/** The canonical form of a room id (direct rooms: lower user id first); throws if malformed. */
export function canonicalRoomId(roomId) {
  if (typeof roomId !== 'string' || !ROOM_ID_RE.test(roomId)) throw new TypeError(`roomId: malformed ${JSON.stringify(roomId)}`);
  const m = /^dm-(\d+)-(\d+)$/.exec(roomId);
  if (!m) return roomId;
  const [a, b] = [BigInt(m[1]), BigInt(m[2])];
  return a <= b ? `dm-${m[1]}-${m[2]}` : `dm-${m[2]}-${m[1]}`;
}

let idCounter = 0;
function newClientMsgId(random) {
  if (typeof globalThis.crypto?.randomUUID === 'function') return globalThis.crypto.randomUUID();
  return `c-${Date.now().toString(36)}-${(idCounter++).toString(36)}-${Math.floor(random() * 2 ** 32).toString(36)}`;
}

export class ChatError extends Error {
  constructor(msg) {
    super();
    Object.assign(this, msg);
    this.name = 'ChatError';
    this.serverMessage = msg.message;
    this.message = `${msg.code}: ${msg.message ?? ''}`;
  }
}

export class ChatClient {
  /** @param {object} opts see index.d.ts (ChatClientOptions) */
  constructor(opts = {}) {
    if (typeof opts.getToken === 'function') this._getToken = opts.getToken;
    else if (typeof opts.token === 'string' && opts.token) this._getToken = () => opts.token;
    else throw new TypeError('token (string) or getToken (function) is required');
    this.baseUrl = String(opts.baseUrl ?? globalThis.location?.origin ?? '');
    this._wsBase = wsBase(this.baseUrl);
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    const t = opts.timers ?? globalThis;
    this._setTimeout = t.setTimeout.bind(t);
    this._clearTimeout = t.clearTimeout.bind(t);
    this._now = opts.now ?? Date.now;
    this._random = opts.random ?? Math.random;
    this._backoff = createBackoff({ initialMs: 500, maxMs: 15000, ...(opts.backoff ?? {}), random: this._random });
    this.typingIdleMs = opts.typingIdleMs ?? 3000;
    this._listeners = new Map(EVENT_TYPES.map((k) => [k, new Set()]));
    this.status = 'idle';
    this.me = null; // the ready message: userId, userName, limits
    /** @type {Map<string,{members:Map<number,object>, typing:Map<number,string>, lastReadId:number}>} */
    this.rooms = new Map();
    this._joined = new Set(); // rooms to rejoin after a reconnect
    this._unacked = new Map(); // clientMsgId -> {roomId, text, resolve, reject}
    this._pending = []; // [{kind, roomId, resolve, reject}] answered in order per kind and room
    this._typing = new Map(); // roomId -> {sentAt, stopTimer}
    this._ws = null;
    this._gen = 0;
    this._wanted = false;
    this._retryTimer = null;
    this._heartbeatTimer = null;
    this._readyWaiters = [];
    this._live = new Set(); // rooms joined on the current connection
  }

  on(type, cb) {
    const set = this._listeners.get(type);
    if (!set) throw new TypeError(`unknown event ${type}`);
    set.add(cb);
    return () => set.delete(cb);
  }

  /** Connects (and keeps reconnecting until close()); resolves with the first `ready`. */
  connect() {
    this._wanted = true;
    if (this.status === 'open') return Promise.resolve(this.me);
    const p = new Promise((resolve, reject) => this._readyWaiters.push({ resolve, reject }));
    if (!this._ws && !this._retryTimer) this._open();
    return p;
  }

  close() {
    this._wanted = false;
    this._gen++;
    if (this._retryTimer) { this._clearTimeout(this._retryTimer); this._retryTimer = null; }
    this._stopHeartbeat();
    for (const t of this._typing.values()) if (t.stopTimer) this._clearTimeout(t.stopTimer);
    this._typing.clear();
    if (this._ws) { try { this._ws.close(1000); } catch { /* closing */ } this._ws = null; }
    const err = new ChatError({ code: 'closed', message: 'the client was closed' });
    for (const p of this._pending.splice(0)) p.reject(err);
    for (const u of this._unacked.values()) u.reject(err);
    this._unacked.clear();
    for (const w of this._readyWaiters.splice(0)) w.reject(err);
    this._setStatus('closed');
  }

  // ------------------------------------------------------------------ requests

  join(roomId) {
    const id = canonicalRoomId(roomId);
    this._joined.add(id);
    return this._request('joined', id, { type: 'join', roomId: id });
  }

  leave(roomId) {
    const id = canonicalRoomId(roomId);
    this._joined.delete(id);
    this.rooms.delete(id);
    return this._request('left', id, { type: 'leave', roomId: id });
  }

  history(roomId, { before, limit } = {}) {
    const id = canonicalRoomId(roomId);
    const msg = { type: 'history', roomId: id };
    if (before !== undefined && before !== null) {
      if (!Number.isSafeInteger(before) || before <= 0) throw new TypeError('before: a positive integer');
      msg.before = before;
    }
    if (limit !== undefined) {
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 200) throw new TypeError('limit: 1..200');
      msg.limit = limit;
    }
    return this._request('history', id, msg);
  }

  /**
   * Sends a message; resolves with the ack once it is stored. The same clientMsgId is reused for
   * every retry (after reconnects), so it is stored once.
   */
  send(roomId, text, { clientMsgId } = {}) {
    const id = canonicalRoomId(roomId);
    if (typeof text !== 'string' || text.trim() === '') throw new TypeError('text: not empty');
    const max = this.me?.limits?.maxMessageLength ?? 4000;
    if ([...text].length > max) throw new TypeError(`text: at most ${max} characters`);
    const cid = clientMsgId ?? newClientMsgId(this._random);
    if (!CLIENT_MSG_ID_RE.test(cid)) throw new TypeError('clientMsgId: 1..64 printable ASCII characters');
    this._endTyping(id, false); // the server ends typing on a message
    return new Promise((resolve, reject) => {
      const u = { roomId: id, text, resolve, reject, clientMsgId: cid, sentGen: -1 };
      this._unacked.set(cid, u);
      // A room being (re)joined gets its messages once `joined` arrives: the server refuses
      // messages for a room whose join it has not finished (not_joined).
      if (this._live.has(id) || !this._joined.has(id)) this._sendMessage(u);
    });
  }

  edit(roomId, messageId, text) {
    this._sendRaw({ type: 'edit', roomId: canonicalRoomId(roomId), messageId: this._msgId(messageId), text: String(text) });
  }

  delete(roomId, messageId) {
    this._sendRaw({ type: 'delete', roomId: canonicalRoomId(roomId), messageId: this._msgId(messageId) });
  }

  /** Moves this user's read position forward; resolves with the position after it. */
  markRead(roomId, messageId) {
    const id = canonicalRoomId(roomId);
    return this._request('read', id, { type: 'read', roomId: id, messageId: this._msgId(messageId) });
  }

  /** Raw typing state. Prefer typingStart() from input handlers. */
  typing(roomId, state) {
    if (state !== 'start' && state !== 'stop') throw new TypeError('state: start or stop');
    this._sendRaw({ type: 'typing', roomId: canonicalRoomId(roomId), state });
  }

  /**
   * Call on every keystroke: sends `start` at most once per refresh period (below the server's
   * typing timeout) and `stop` after typingIdleMs without keystrokes.
   */
  typingStart(roomId) {
    const id = canonicalRoomId(roomId);
    const now = this._now();
    const refresh = Math.floor((this.me?.limits?.typingTimeoutMs ?? 5000) * 0.6);
    let t = this._typing.get(id);
    if (!t) { t = { sentAt: -Infinity, stopTimer: null }; this._typing.set(id, t); }
    if (now - t.sentAt >= refresh) { this.typing(id, 'start'); t.sentAt = now; }
    if (t.stopTimer) this._clearTimeout(t.stopTimer);
    t.stopTimer = this._setTimeout(() => this._endTyping(id, true), this.typingIdleMs);
  }

  typingStop(roomId) { this._endTyping(canonicalRoomId(roomId), true); }

  setPresence(status) {
    if (status !== 'away' && status !== 'online') throw new TypeError('status: away or online');
    this._sendRaw({ type: 'presence', status });
  }

  _endTyping(roomId, send) {
    const t = this._typing.get(roomId);
    if (!t) return;
    if (t.stopTimer) this._clearTimeout(t.stopTimer);
    this._typing.delete(roomId);
    if (send) this._sendRaw({ type: 'typing', roomId, state: 'stop' });
  }

  _sendMessage(u) {
    if (!this._ws || this.status !== 'open') return;
    u.sentGen = this._gen;
    this._sendRaw({ type: 'message', roomId: u.roomId, clientMsgId: u.clientMsgId, text: u.text });
  }

  _msgId(v) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new TypeError('messageId: a positive integer');
    return v;
  }

  _request(kind, roomId, msg) {
    return new Promise((resolve, reject) => {
      this._pending.push({ kind, roomId, resolve, reject });
      this._sendRaw(msg);
    });
  }

  _sendRaw(msg) {
    // While disconnected nothing is queued here: joins and unacked messages are replayed on
    // `ready`; typing and presence are momentary.
    if (this._ws && this._ws.readyState === 1 && this.status === 'open') this._ws.send(JSON.stringify(msg));
  }

  _settle(kind, roomId, value, isError = false) {
    const i = this._pending.findIndex((p) => (kind === null || p.kind === kind) && p.roomId === roomId);
    if (i < 0) return false;
    const [p] = this._pending.splice(i, 1);
    if (isError) p.reject(value); else p.resolve(value);
    return true;
  }

  // ------------------------------------------------------------------ connection

  async _open() {
    const gen = ++this._gen;
    this._setStatus(this.me ? 'reconnecting' : 'connecting');
    let token;
    try { token = await this._getToken(); } catch (err) { if (gen === this._gen) this._scheduleReconnect(); this._emit('error', err); return; }
    if (gen !== this._gen || !this._wanted) return;
    const ws = new this._WebSocket(`${this._wsBase}/v2/collaboration/chat/stream?access_token=${encodeURIComponent(token)}`);
    this._ws = ws;
    this._live = new Set();
    this._expectSeq = 0;
    ws.onmessage = (ev) => { if (gen === this._gen) this._onMessage(ev.data); };
    ws.onerror = () => {};
    ws.onclose = (ev) => { if (gen === this._gen) this._onClose(ev.code); };
  }

  _onClose(code) {
    this._ws = null;
    this._stopHeartbeat();
    if (!this._wanted) return;
    // Requests in flight get no answer from this connection; joins and messages are replayed.
    const err = new ChatError({ code: 'disconnected', message: 'the connection was lost' });
    const keep = this._pending.filter((p) => p.kind === 'joined'); // answered after the rejoin
    for (const p of this._pending) if (p.kind !== 'joined') p.reject(err);
    this._pending = keep;
    if (FATAL_CLOSE_CODES.has(code)) {
      this._setStatus('failed', { code });
      for (const w of this._readyWaiters.splice(0)) w.reject(new ChatError({ code: 'closed', message: `closed ${code}` }));
      return;
    }
    this._scheduleReconnect(code);
  }

  _scheduleReconnect(code) {
    if (this._retryTimer || !this._wanted) return;
    const delay = this._backoff.next();
    this._setStatus('reconnecting', { code, delay });
    this._retryTimer = this._setTimeout(() => { this._retryTimer = null; this._open(); }, delay);
  }

  _drop() {
    const ws = this._ws;
    this._gen++;
    this._ws = null;
    this._stopHeartbeat();
    if (ws) { try { ws.close(4000, 'resync'); } catch { /* closing */ } }
    this._onCloseAfterDrop();
  }

  _onCloseAfterDrop() {
    if (!this._wanted) return;
    for (const p of [...this._pending]) if (p.kind !== 'joined') this._settle(p.kind, p.roomId, new ChatError({ code: 'disconnected' }), true);
    this._scheduleReconnect(4000);
  }

  _armHeartbeat(ms) {
    this._stopHeartbeat();
    const every = Math.max(50, Math.floor(ms / 2));
    const tick = () => {
      if (!this._ws) return;
      const silent = this._now() - this._lastMessageAt;
      if (silent >= ms * 1.5) { this._drop(); return; }
      if (silent >= every) this._sendRaw({ type: 'ping' });
      this._heartbeatTimer = this._setTimeout(tick, every);
    };
    this._heartbeatTimer = this._setTimeout(tick, every);
  }

  _stopHeartbeat() {
    if (this._heartbeatTimer) { this._clearTimeout(this._heartbeatTimer); this._heartbeatTimer = null; }
  }

  _onMessage(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m.type !== 'string') return;
    this._lastMessageAt = this._now();
    if (Number.isSafeInteger(m.seq)) {
      if (m.seq !== this._expectSeq) { this._drop(); return; }
      this._expectSeq = m.seq + 1;
    }
    switch (m.type) {
      case 'ready': return this._onReady(m);
      case 'joined': {
        const room = { members: new Map(), typing: new Map(), lastReadId: m.lastReadId ?? 0 };
        for (const u of Array.isArray(m.members) ? m.members : []) room.members.set(u.userId, u);
        this.rooms.set(m.roomId, room);
        this._live.add(m.roomId);
        this._settle('joined', m.roomId, m);
        for (const u of this._unacked.values()) if (u.roomId === m.roomId && u.sentGen !== this._gen) this._sendMessage(u);
        break;
      }
      case 'left': this._live.delete(m.roomId); this._settle('left', m.roomId, m); break;
      case 'history': this._settle('history', m.roomId, m); break;
      case 'ack': {
        const u = this._unacked.get(m.clientMsgId);
        if (u) { this._unacked.delete(m.clientMsgId); u.resolve(m); }
        break;
      }
      case 'read': {
        const room = this.rooms.get(m.roomId);
        const member = room?.members.get(m.userId);
        if (member) member.lastReadId = m.messageId;
        if (m.userId === this.me?.userId) {
          if (room) room.lastReadId = m.messageId;
          this._settle('read', m.roomId, m);
        }
        break;
      }
      case 'typing': {
        const room = this.rooms.get(m.roomId);
        if (room) { if (m.state === 'start') room.typing.set(m.userId, m.userName); else room.typing.delete(m.userId); }
        break;
      }
      case 'presence':
        for (const [id, room] of this.rooms) {
          if (m.roomId && m.roomId !== id) continue;
          const prev = room.members.get(m.userId) ?? { userId: m.userId, lastReadId: 0 };
          room.members.set(m.userId, { ...prev, userName: m.userName, status: m.status, lastActiveAt: m.lastActiveAt });
        }
        break;
      case 'error': return this._onError(m);
      default: break;
    }
    this._emit(m.type, m);
    return undefined;
  }

  _onReady(m) {
    this.me = m;
    this._backoff.reset();
    this._setStatus('open', { connectionId: m.connectionId });
    this._armHeartbeat(Number.isSafeInteger(m.heartbeatMs) && m.heartbeatMs > 0 ? m.heartbeatMs : 25000);
    // Rejoin (the answers bring what was missed); what was never acknowledged is sent again,
    // with its clientMsgId, as each room's `joined` arrives.
    for (const id of this._joined) {
      if (!this._pending.some((p) => p.kind === 'joined' && p.roomId === id)) this._pending.push({ kind: 'joined', roomId: id, resolve: () => {}, reject: () => {} });
      this._sendRaw({ type: 'join', roomId: id });
    }
    for (const u of this._unacked.values()) if (!this._joined.has(u.roomId)) this._sendMessage(u);
    for (const w of this._readyWaiters.splice(0)) w.resolve(m);
    this._emit('ready', m);
  }

  _onError(m) {
    const err = new ChatError(m);
    if (m.clientMsgId && this._unacked.has(m.clientMsgId)) {
      // store_unavailable may be retried with the same id; anything else is final for that message.
      if (m.code !== 'store_unavailable' && m.code !== 'rate_limited') {
        const u = this._unacked.get(m.clientMsgId);
        this._unacked.delete(m.clientMsgId);
        u.reject(err);
      } else {
        const u = this._unacked.get(m.clientMsgId);
        const wait = m.code === 'rate_limited' && Number.isSafeInteger(m.retryAfterMs) ? m.retryAfterMs : this._backoff.next();
        this._setTimeout(() => { if (this._unacked.has(u.clientMsgId)) this._sendMessage(u); }, wait);
      }
    } else if (m.roomId) {
      if (['unknown_room', 'room_forbidden', 'too_many_rooms'].includes(m.code)) this._joined.delete(m.roomId);
      this._settle(null, m.roomId, err, true);
    }
    this._emit('error', err);
  }

  _setStatus(status, info = {}) {
    if (this.status === status) return;
    this.status = status;
    this._emit('status', { status, ...info });
  }

  _emit(type, ...args) {
    for (const cb of [...(this._listeners.get(type) ?? [])]) {
      try { cb(...args); } catch (err) { if (type !== 'error') this._emit('error', err); }
    }
  }
}
