// The realtime client: one WebSocket to GET /v2/realtime/stream for every service, with the
// seed's RealtimeProviderV2 behaviour (docs/PROTOCOL.md, "The unified realtime stream").
//
//   const rt = new RealtimeClient({ token, services: ['finance', 'guest'] });
//   window.addEventListener('finance-stream-events', (e) => console.log(e.detail.events));
//   rt.on('events', (service, events) => ...);        // the same batches, without the DOM
//   rt.start();
//
// - Reconnects with exponential backoff and jitter (backoff.js) and resumes every service from
//   the last offset and epoch it delivered, so a cut connection loses and repeats nothing;
//   deliveries are also deduplicated by offset, whichever transport they came from.
// - A `reset` (history gap) moves the position and is reported (`reset` callback and the
//   `<service>-stream-reset` window event): the application refetches that service over REST.
// - Flags: close 4503, a `fallback` message or an ack's `fallback` list move services to
//   long-polling (GET /v1/realtime/{service}/poll) from the offsets the server gives; while any
//   service polls, GET /v2/realtime/config is checked every `configCheckMs` and services the
//   server lets stream again go back to the WebSocket (`subscribe` with `resume`).
// - A `seq` gap (a lost server message) or a silent connection forces a reconnect and resume.
//
// Everything that touches the outside world is injectable (WebSocket, fetch, timers, clock,
// random, storage, event target), so the logic runs in Node under test with fakes.
import { createBackoff } from './backoff.js';

export const SERVICES = ['finance', 'guest', 'staff', 'tasks', 'properties', 'users', 'dashboard',
  'branding', 'analytics', 'reports'];
/** Close codes after which reconnecting cannot help (docs/PROTOCOL.md, close codes). */
export const FATAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1009, 4400, 4403, 4404, 4406]);
const EPOCH_RE = /^[0-9a-f]{16}$/;
const CLIENT_CLOSE_STALE = 4000; // our own code (4000-4999 are the application's)

const isOffset = (v) => Number.isSafeInteger(v) && v >= 0;
const validPosition = (p) => p && isOffset(p.offset) && typeof p.epoch === 'string' && EPOCH_RE.test(p.epoch);

/** http(s)://host -> ws(s)://host; throws on anything else. */
export function wsBase(baseUrl) {
  const u = new URL(baseUrl);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`baseUrl must be http(s): ${baseUrl}`);
  return `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}`;
}

export class RealtimeClient {
  /**
   * @param {object} opts see index.d.ts (RealtimeClientOptions)
   */
  constructor(opts = {}) {
    const services = opts.services;
    if (!Array.isArray(services) || services.length === 0) throw new TypeError('services: a non-empty array');
    for (const s of services) if (!SERVICES.includes(s)) throw new TypeError(`services: unknown service ${JSON.stringify(s)}`);
    this.services = [...new Set(services)];
    if (typeof opts.getToken === 'function') this._getToken = opts.getToken;
    else if (typeof opts.token === 'string' && opts.token) this._getToken = () => opts.token;
    else throw new TypeError('token (string) or getToken (function) is required');
    this.baseUrl = String(opts.baseUrl ?? globalThis.location?.origin ?? '');
    this._wsBase = wsBase(this.baseUrl);
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    this._fetch = opts.fetch ?? globalThis.fetch?.bind(globalThis);
    if (typeof this._WebSocket !== 'function' || typeof this._fetch !== 'function') throw new TypeError('WebSocket and fetch are required');
    const t = opts.timers ?? globalThis;
    this._setTimeout = t.setTimeout.bind(t);
    this._clearTimeout = t.clearTimeout.bind(t);
    this._now = opts.now ?? Date.now;
    this._random = opts.random ?? Math.random;
    this._target = opts.target === undefined ? (globalThis.window ?? null) : opts.target;
    this._storage = opts.storage ?? null;
    this._storageKey = opts.storageKey ?? 'bellhop.realtime.positions';
    this._backoffOpts = { initialMs: 500, maxMs: 30000, ...(opts.backoff ?? {}), random: this._random };
    this._backoff = createBackoff(this._backoffOpts);
    this.pollTimeoutS = opts.pollTimeoutS ?? 25;
    this.configCheckMs = opts.configCheckMs ?? 30000;

    /** @type {Map<string,{offset:number,epoch:string}>} */
    this._positions = new Map();
    /** @type {Map<string,'websocket'|'polling'>} */
    this._transport = new Map(this.services.map((s) => [s, 'websocket']));
    this._pollers = new Map();
    this._listeners = { events: new Set(), reset: new Set(), status: new Set(), error: new Set() };
    for (const k of Object.keys(this._listeners)) {
      const cb = opts[`on${k[0].toUpperCase()}${k.slice(1)}`];
      if (typeof cb === 'function') this._listeners[k].add(cb);
    }
    this.status = 'idle';
    this.connectionId = null;
    this.reconnects = 0;
    this._started = false;
    this._ws = null;
    this._gen = 0; // generation of the current socket: callbacks of older sockets are ignored
    this._retryTimer = null;
    this._heartbeatTimer = null;
    this._configTimer = null;
    this._everOpened = false;
  }

  // ------------------------------------------------------------------ public API

  /** Adds a listener: 'events' (service, events, source), 'reset' (info), 'status' (status, info), 'error' (err). Returns a function that removes it. */
  on(kind, cb) {
    const set = this._listeners[kind];
    if (!set) throw new TypeError(`unknown listener kind ${kind}`);
    set.add(cb);
    return () => set.delete(cb);
  }

  /** Positions delivered so far, per service: {offset, epoch}. */
  get positions() {
    return Object.fromEntries([...this._positions].map(([k, v]) => [k, { ...v }]));
  }

  /** Which transport each service uses now. */
  get transports() { return Object.fromEntries(this._transport); }

  start() {
    if (this._started) return this;
    this._started = true;
    this._load();
    this._connect();
    return this;
  }

  /** Closes everything; no callback fires afterwards. */
  stop() {
    this._started = false;
    this._gen++;
    this._clearTimer('_retryTimer');
    this._clearTimer('_heartbeatTimer');
    this._clearTimer('_configTimer');
    for (const s of [...this._pollers.keys()]) this._stopPoller(s);
    if (this._ws) {
      try { this._ws.close(1000, 'client stop'); } catch { /* already closing */ }
      this._ws = null;
    }
    this._setStatus('stopped');
  }

  /** Skips the backoff wait (e.g. on the browser's `online` event). */
  reconnectNow() {
    if (!this._started || !this._retryTimer) return;
    this._clearTimer('_retryTimer');
    this._connect();
  }

  // ------------------------------------------------------------------ WebSocket

  _streamed() { return this.services.filter((s) => this._transport.get(s) === 'websocket'); }

  async _connect() {
    this._retryTimer = null;
    const svcs = this._streamed();
    if (!this._started) return;
    if (svcs.length === 0) { this._setStatus('polling'); return; }
    const gen = ++this._gen;
    this._setStatus(this._everOpened ? 'reconnecting' : 'connecting');
    let token;
    try {
      token = await this._getToken();
    } catch (err) {
      if (gen !== this._gen) return;
      this._emit('error', err);
      this._scheduleReconnect();
      return;
    }
    if (gen !== this._gen || !this._started) return;
    let ws;
    try {
      ws = new this._WebSocket(`${this._wsBase}/v2/realtime/stream?access_token=${encodeURIComponent(token)}`);
    } catch (err) {
      this._emit('error', err);
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    this._expectSeq = 0;
    this._closeError = null;
    ws.onopen = () => {
      if (gen !== this._gen) return;
      // Read the services now: a config check may have moved some back while we connected.
      const now = this._streamed();
      if (now.length === 0) { this._gen++; this._ws = null; ws.close(1000, 'polling'); this._setStatus('polling'); return; }
      const resume = {};
      for (const s of now) { const p = this._positions.get(s); if (p) resume[s] = p; }
      const hs = { type: 'handshake', version: 1, services: now };
      if (Object.keys(resume).length) hs.resume = resume;
      ws.send(JSON.stringify(hs));
    };
    ws.onmessage = (ev) => { if (gen === this._gen) this._onMessage(ev.data); };
    ws.onerror = () => { /* a close event follows */ };
    ws.onclose = (ev) => { if (gen === this._gen) this._onClose(ev.code, ev.reason); };
  }

  _send(msg) {
    if (this._ws && this._ws.readyState === 1) this._ws.send(JSON.stringify(msg));
  }

  _onMessage(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { msg = null; }
    if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') {
      this._emit('error', new Error('realtime: a server message that is not a JSON object'));
      return;
    }
    this._lastMessageAt = this._now();
    if (Number.isSafeInteger(msg.seq)) {
      if (msg.seq !== this._expectSeq) {
        // A lost or reordered message: the offsets tell what we have, so start over from them.
        this._emit('error', new Error(`realtime: seq ${msg.seq}, expected ${this._expectSeq}; resuming`));
        this._dropSocket();
        return;
      }
      this._expectSeq = msg.seq + 1;
    }
    switch (msg.type) {
      case 'ack': return this._onAck(msg);
      case 'events': return this._deliver(msg.service, msg.events, 'websocket');
      case 'reset': return this._onReset(msg);
      case 'fallback': return this._onFallback(msg.services);
      case 'subscribed': return this._onSubscribed(msg);
      case 'error':
        if (msg.closeCode) this._closeError = msg;
        this._emit('error', Object.assign(new Error(`realtime: ${msg.code}: ${msg.message}`), { code: msg.code, closeCode: msg.closeCode }));
        return undefined;
      default: return undefined; // pong, unsubscribed, and types of later versions
    }
  }

  _onAck(msg) {
    this._backoff.reset();
    if (this._everOpened) this.reconnects++;
    this._everOpened = true;
    this.connectionId = typeof msg.connectionId === 'string' ? msg.connectionId : null;
    const positions = msg.positions && typeof msg.positions === 'object' ? msg.positions : {};
    for (const s of Array.isArray(msg.services) ? msg.services : []) {
      // A service we had no position for starts at the head; a resumed one moves with its replay.
      if (!this._positions.has(s) && validPosition(positions[s])) this._positions.set(s, { offset: positions[s].offset, epoch: positions[s].epoch });
    }
    this._save();
    this._heartbeatMs = Number.isSafeInteger(msg.heartbeatMs) && msg.heartbeatMs > 0 ? msg.heartbeatMs : 25000;
    this._armHeartbeat();
    if (msg.fallback && typeof msg.fallback === 'object') this._onFallback(msg.fallback);
    this._setStatus('open', { connectionId: this.connectionId });
  }

  _onSubscribed(msg) {
    const positions = msg.positions && typeof msg.positions === 'object' ? msg.positions : {};
    for (const s of Array.isArray(msg.services) ? msg.services : []) {
      if (!this._transport.has(s)) continue;
      this._transport.set(s, 'websocket');
      if (!this._positions.has(s) && validPosition(positions[s])) this._positions.set(s, { ...positions[s] });
    }
    this._save();
    this._setStatus('open', { connectionId: this.connectionId }, true);
  }

  _onClose(code, reason) {
    this._ws = null;
    this._clearTimer('_heartbeatTimer');
    if (!this._started) return;
    if (code === 4503) {
      const fb = this._closeError?.fallback;
      const all = {};
      for (const s of this._streamed()) all[s] = fb && fb[s] ? fb[s] : {};
      this._onFallback(all);
      return;
    }
    if (FATAL_CLOSE_CODES.has(code)) {
      this._setStatus('failed', { code, reason, error: this._closeError?.code });
      this._emit('error', Object.assign(new Error(`realtime: closed ${code} ${reason || ''}`.trim()), { closeCode: code }));
      return;
    }
    this._scheduleReconnect({ code, reason });
  }

  _scheduleReconnect(info = {}) {
    if (!this._started || this._retryTimer) return;
    const delay = this._backoff.next();
    this._setStatus(this._streamed().length ? 'reconnecting' : 'polling', { ...info, delay, attempt: this._backoff.attempt });
    this._retryTimer = this._setTimeout(() => this._connect(), delay);
  }

  /** Abandons the current socket at once (a close handshake may never finish on a dead link). */
  _dropSocket() {
    const ws = this._ws;
    this._gen++;
    this._ws = null;
    this._clearTimer('_heartbeatTimer');
    if (ws) { try { ws.close(CLIENT_CLOSE_STALE, 'resync'); } catch { /* ignore */ } }
    if (this._started) this._scheduleReconnect({ code: CLIENT_CLOSE_STALE, reason: 'resync' });
  }

  /**
   * Keep-alive: browsers answer the server's WebSocket pings without telling us, so a dead link
   * is noticed by silence. We ping after half a heartbeat of silence (any message counts) and
   * give up after one and a half.
   */
  _armHeartbeat() {
    this._clearTimer('_heartbeatTimer');
    const every = Math.max(50, Math.floor(this._heartbeatMs / 2));
    const tick = () => {
      this._heartbeatTimer = null;
      if (!this._ws) return;
      const silent = this._now() - this._lastMessageAt;
      if (silent >= this._heartbeatMs * 1.5) { this._dropSocket(); return; }
      if (silent >= every) this._send({ type: 'ping' });
      this._heartbeatTimer = this._setTimeout(tick, every);
    };
    this._heartbeatTimer = this._setTimeout(tick, every);
  }

  // ------------------------------------------------------------------ delivery

  _deliver(service, events, source) {
    if (!this._transport.has(service) || !Array.isArray(events)) return;
    const pos = this._positions.get(service);
    const fresh = [];
    let last = pos ? pos.offset : -1;
    for (const e of events) {
      if (!e || typeof e !== 'object' || !isOffset(e.offset)) continue;
      if (e.offset <= last) continue; // already delivered (a replay overlapping a poll, say)
      fresh.push(e);
      last = e.offset;
    }
    if (fresh.length === 0) return;
    const epoch = pos?.epoch ?? (typeof fresh[0].id === 'string' ? fresh[0].id.split('-')[0] : '');
    this._positions.set(service, { offset: last, epoch });
    this._save();
    this._emit('events', service, fresh, source);
    this._dispatch(`${service}-stream-events`, { service, events: fresh });
  }

  _onReset(msg) {
    const s = msg.service;
    if (!this._transport.has(s) || !isOffset(msg.offset) || typeof msg.epoch !== 'string') return;
    this._positions.set(s, { offset: msg.offset, epoch: msg.epoch });
    this._save();
    const info = { service: s, offset: msg.offset, epoch: msg.epoch, reason: msg.reason };
    this._emit('reset', info);
    this._dispatch(`${s}-stream-reset`, info);
  }

  _dispatch(name, detail) {
    if (!this._target || typeof this._target.dispatchEvent !== 'function') return;
    // CustomEvent is global in browsers and Node >= 19; elsewhere an Event carrying `detail`.
    const ev = typeof CustomEvent === 'function' ? new CustomEvent(name, { detail }) : Object.assign(new Event(name), { detail });
    this._target.dispatchEvent(ev);
  }

  // ------------------------------------------------------------------ long-polling fallback

  _onFallback(map) {
    if (!map || typeof map !== 'object') return;
    for (const [s, info] of Object.entries(map)) {
      if (!this._transport.has(s)) continue;
      this._transport.set(s, 'polling');
      // The server's offset is what this client was delivered; ours is never behind it, and a
      // resumed service carries our own epoch back, so keep ours when we have one.
      if (!this._positions.has(s) && info && validPosition(info)) this._positions.set(s, { offset: info.offset, epoch: info.epoch });
      this._startPoller(s);
    }
    this._save();
    if (this._streamed().length === 0) this._setStatus('polling');
    else this._setStatus(this.status, {}, true);
    this._armConfigCheck();
  }

  _startPoller(service) {
    if (this._pollers.has(service)) return;
    const p = { abort: null, timer: null, backoff: createBackoff(this._backoffOpts), stopped: false };
    this._pollers.set(service, p);
    this._pollOnce(service, p);
  }

  _stopPoller(service) {
    const p = this._pollers.get(service);
    if (!p) return;
    p.stopped = true;
    if (p.timer) this._clearTimeout(p.timer);
    if (p.abort) p.abort.abort();
    this._pollers.delete(service);
  }

  async _pollOnce(service, p) {
    p.timer = null;
    if (p.stopped || !this._started) return;
    const pos = this._positions.get(service);
    let url = `${this.baseUrl}/v1/realtime/${service}/poll?timeout=${this.pollTimeoutS}`;
    if (pos) url += `&since=${pos.offset}&epoch=${pos.epoch}`;
    p.abort = typeof AbortController === 'function' ? new AbortController() : null;
    let status = 0;
    let body = null;
    try {
      const token = await this._getToken();
      const res = await this._fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: p.abort?.signal });
      status = res.status;
      body = await res.json().catch(() => null);
    } catch (err) {
      if (p.stopped) return;
      this._emit('error', err);
    }
    if (p.stopped || !this._started) return;
    if (status === 200 && body && typeof body === 'object') {
      p.backoff.reset();
      if (body.reset) this._onReset({ ...body, service });
      else this._deliver(service, body.events, 'polling');
      // `offset` moves past events this user may not see, so always take it.
      if (isOffset(body.offset) && typeof body.epoch === 'string') {
        const cur = this._positions.get(service);
        if (!cur || cur.epoch !== body.epoch || body.offset > cur.offset) this._positions.set(service, { offset: body.offset, epoch: body.epoch });
        this._save();
      }
      p.timer = this._setTimeout(() => this._pollOnce(service, p), 0);
      return;
    }
    if (status === 400 || status === 403 || status === 404) {
      this._emit('error', Object.assign(new Error(`realtime: polling ${service}: HTTP ${status} ${body?.error?.code ?? ''}`.trim()), { status, service }));
      this._stopPoller(service);
      return;
    }
    p.timer = this._setTimeout(() => this._pollOnce(service, p), p.backoff.next());
  }

  _armConfigCheck() {
    if (this._configTimer || !this._started) return;
    this._configTimer = this._setTimeout(() => this._checkConfig(), this.configCheckMs);
  }

  /** While something polls: may it stream again? (GET /v2/realtime/config) */
  async _checkConfig() {
    this._configTimer = null;
    const polled = this.services.filter((s) => this._transport.get(s) === 'polling');
    if (!this._started || polled.length === 0) return;
    let cfg = null;
    try {
      const token = await this._getToken();
      const res = await this._fetch(`${this.baseUrl}/v2/realtime/config`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status === 200) cfg = await res.json();
    } catch (err) {
      this._emit('error', err);
    }
    if (!this._started) return;
    const back = cfg && cfg.streaming === true && cfg.services && typeof cfg.services === 'object'
      ? polled.filter((s) => cfg.services[s]?.transport === 'websocket') : [];
    if (back.length) {
      for (const s of back) { this._stopPoller(s); this._transport.set(s, 'websocket'); }
      if (this._ws && this._ws.readyState === 1) {
        const resume = {};
        for (const s of back) { const pos = this._positions.get(s); if (pos) resume[s] = pos; }
        this._send({ type: 'subscribe', services: back, resume });
      } else if (!this._ws) {
        this._clearTimer('_retryTimer');
        this._connect();
      }
    }
    if (this.services.some((s) => this._transport.get(s) === 'polling')) this._armConfigCheck();
  }

  // ------------------------------------------------------------------ helpers

  _clearTimer(name) {
    if (this[name]) { this._clearTimeout(this[name]); this[name] = null; }
  }

  /** Reports a status; the same status again only when `force` (the transports changed). */
  _setStatus(status, info = {}, force = false) {
    if (this.status === status && status !== 'reconnecting' && !force) return;
    this.status = status;
    this._emit('status', status, { ...info, transports: this.transports });
    this._dispatch('realtime-status', { status, ...info, transports: this.transports });
  }

  _emit(kind, ...args) {
    for (const cb of [...this._listeners[kind]]) {
      try { cb(...args); } catch (err) { if (kind !== 'error') this._emit('error', err); }
    }
  }

  _load() {
    if (!this._storage) return;
    let saved = null;
    try { saved = JSON.parse(this._storage.getItem(this._storageKey) || 'null'); } catch { saved = null; }
    if (!saved || typeof saved !== 'object') return;
    for (const s of this.services) if (validPosition(saved[s])) this._positions.set(s, { offset: saved[s].offset, epoch: saved[s].epoch });
  }

  _save() {
    if (!this._storage) return;
    try { this._storage.setItem(this._storageKey, JSON.stringify(this.positions)); } catch { /* quota or privacy mode */ }
  }
}
