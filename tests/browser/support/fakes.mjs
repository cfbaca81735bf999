// Fakes for the client library's unit tests: a virtual clock with timers, a scripted WebSocket
// and a scripted fetch. Nothing here sleeps: time moves only when a test calls clock.advance().

/** Virtual time. setTimeout/clearTimeout/now are what the clients take as `timers` and `now`. */
export class FakeClock {
  constructor() { this.t = 1_000_000; this.timers = new Map(); this.nextId = 1; }
  now = () => this.t;
  setTimeout = (fn, ms = 0) => { const id = this.nextId++; this.timers.set(id, { at: this.t + Math.max(0, ms), fn }); return id; };
  clearTimeout = (id) => { this.timers.delete(id); };
  /** Delays of the pending timers, soonest first. */
  pending() { return [...this.timers.values()].map((x) => x.at - this.t).sort((a, b) => a - b); }
  /** Runs every timer due within ms, in time order (awaiting microtasks between them). */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let best = null;
      for (const [id, x] of this.timers) if (x.at <= end && (!best || x.at < best[1].at)) best = [id, x];
      if (!best) break;
      this.timers.delete(best[0]);
      this.t = best[1].at;
      best[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

/** Lets queued promise callbacks run (several turns, for chains of awaits). */
export async function flush() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** A WebSocket whose server side the test plays: open(), serverSend(), serverClose(). */
export function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.bufferedAmount = 0;
      this.closedByClient = null;
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      this.sent.push(typeof data === 'string' ? JSON.parse(data) : data);
    }
    close(code = 1000, reason = '') {
      if (this.readyState >= 2) return;
      this.closedByClient = { code, reason };
      this.readyState = 3;
      queueMicrotask(() => this.onclose?.({ code, reason }));
    }
    // ---- the test's side
    open() { this.readyState = 1; this.onopen?.({}); }
    serverSend(obj) { this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) }); }
    serverClose(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
    /** Client messages of a given type. */
    sentOfType(type) { return this.sent.filter((m) => m && m.type === type); }
  }
  FakeWebSocket.sockets = sockets;
  FakeWebSocket.last = () => sockets[sockets.length - 1];
  return FakeWebSocket;
}

/** A fetch the test answers: calls[] holds {url, init, respond(status, json)}. */
export function fakeFetch() {
  const calls = [];
  const f = (url, init = {}) => new Promise((resolve, reject) => {
    const call = {
      url: new URL(url),
      init,
      done: false,
      respond(status, json) {
        call.done = true;
        resolve({ status, ok: status >= 200 && status < 300, json: async () => json, text: async () => JSON.stringify(json) });
      },
      fail(err) { call.done = true; reject(err); },
    };
    init.signal?.addEventListener?.('abort', () => { call.done = true; call.aborted = true; }); 
    init.signal?.addEventListener?.('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    calls.push(call);
  });
  f.calls = calls;
  f.open = () => calls.filter((c) => !c.done);
  return f;
}

/** A Storage-like map (localStorage/sessionStorage). */
export class MemoryStorage {
  constructor() { this.m = new Map(); }
  get length() { return this.m.size; }
  key(i) { return [...this.m.keys()][i] ?? null; }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
}
