// The upload client: guest documents over GET /v2/documents/upload/stream (docs/PROTOCOL.md,
// "Document uploads"), the seed's StreamingDocumentUpload without the React.
//
//   const up = new DocumentUpload({ token, file, documentType: 'passport', guestId: 7, propertyId: 1,
//                                   onProgress: (percent) => bar.value = percent });
//   const doc = await up.start();      // hashes the file, uploads it, resolves with the document
//   await up.pause(); await up.resume(); await up.cancel();
//
// - The SHA-256 is computed in the browser before the upload starts, with our own incremental
//   implementation (sha256.js) over 1 MiB slices, so memory stays bounded whatever the size;
//   the server checks it at completion.
// - Chunks are binary messages: an 8-byte big-endian offset, then the bytes. The client keeps at
//   most two chunks in the socket's buffer (`bufferedAmount`) and can cap its rate
//   (`maxBytesPerSecond`, for shared hotel links).
// - Pause waits for the server's `paused`, whose offset is on disk. A dropped connection is
//   resumed by itself (backoff, `resume` with the upload id, from the server's durable offset).
// - With `storage` (localStorage), the upload id and file identity are remembered, so after a
//   page reload `DocumentUpload.pending(storage)` lists unfinished uploads and
//   `new DocumentUpload({ ...saved, file, uploadId })` continues from the server's offset (the
//   file is re-hashed first and must be the same one).
import { createBackoff } from './backoff.js';
import { sha256Blob } from './sha256.js';
import { wsBase } from './realtime.js';

export const DOCUMENT_TYPES = ['aadhaar', 'passport', 'driving_license', 'pan_card', 'election_card',
  'visa', 'image', 'csv', 'excel'];
const STORAGE_PREFIX = 'bellhop.upload.';
const CHUNK_MAX = 4 * 1024 * 1024;
const FATAL_CODES = new Set(['invalid_field', 'too_large', 'not_found', 'property_forbidden', 'too_many_uploads',
  'already_completed', 'checksum_mismatch', 'type_mismatch', 'size_mismatch', 'unknown_type', 'invalid_chunk',
  'invalid_offset']);

const posInt = (v) => Number.isSafeInteger(v) && v > 0;

export class UploadError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.name = 'UploadError';
    this.code = code;
    Object.assign(this, extra);
  }
}

export class DocumentUpload {
  /** @param {object} opts see index.d.ts (DocumentUploadOptions) */
  constructor(opts = {}) {
    const f = opts.file;
    if (!f || typeof f.slice !== 'function' || !Number.isSafeInteger(f.size) || f.size <= 0) throw new TypeError('file: a non-empty Blob or File');
    if (!DOCUMENT_TYPES.includes(opts.documentType)) throw new TypeError(`documentType: one of ${DOCUMENT_TYPES.join(', ')}`);
    if (!posInt(opts.guestId)) throw new TypeError('guestId: a positive integer');
    if (!posInt(opts.propertyId)) throw new TypeError('propertyId: a positive integer');
    const chunkSize = opts.chunkSize ?? 1024 * 1024;
    if (!posInt(chunkSize) || chunkSize > CHUNK_MAX) throw new TypeError(`chunkSize: 1..${CHUNK_MAX}`);
    if (opts.uploadId !== undefined && !/^[0-9a-f]{32}$/.test(opts.uploadId)) throw new TypeError('uploadId: 32 hex characters');
    if (typeof opts.getToken === 'function') this._getToken = opts.getToken;
    else if (typeof opts.token === 'string' && opts.token) this._getToken = () => opts.token;
    else throw new TypeError('token (string) or getToken (function) is required');
    this.file = f;
    this.size = f.size;
    this.meta = {
      documentType: opts.documentType,
      guestId: opts.guestId,
      propertyId: opts.propertyId,
      fileName: String(opts.fileName ?? f.name ?? 'upload'),
      mimeType: opts.mimeType || f.type || 'application/octet-stream',
    };
    if (opts.documentNumber) this.meta.documentNumber = String(opts.documentNumber);
    this.chunkSize = chunkSize;
    this.maxBytesPerSecond = opts.maxBytesPerSecond > 0 ? opts.maxBytesPerSecond : 0;
    this.uploadId = opts.uploadId ?? null;
    this.sha256 = null;
    this._expectSha = opts.sha256 ?? null; // from a saved record: the file must hash the same
    this.baseUrl = String(opts.baseUrl ?? globalThis.location?.origin ?? '');
    this._wsBase = wsBase(this.baseUrl);
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    const t = opts.timers ?? globalThis;
    this._setTimeout = t.setTimeout.bind(t);
    this._now = opts.now ?? (() => (globalThis.performance ? performance.now() : Date.now()));
    this._storage = opts.storage ?? null;
    this._cb = { progress: opts.onProgress, complete: opts.onComplete, error: opts.onError, status: opts.onStatus };
    this._backoff = createBackoff({ initialMs: 300, maxMs: 5000, ...(opts.backoff ?? {}) });
    this._maxRetries = opts.maxRetries ?? 8;
    this.state = 'idle';
    this.sent = 0; // bytes handed to the socket
    this.durableOffset = 0; // bytes the server has on disk (ready/progress/paused/resumed)
    this.document = null;
    this._ws = null;
    this._waiter = null; // {types, resolve, reject}: one control request at a time
    this._pumping = null;
    this._retries = 0;
  }

  /** Unfinished uploads remembered in storage (for a page reload): [{uploadId, fileName, size, ...}]. */
  static pending(storage) {
    const out = [];
    if (!storage) return out;
    for (let i = 0; i < storage.length; i++) {
      const k = storage.key(i);
      if (!k || !k.startsWith(STORAGE_PREFIX)) continue;
      try {
        const r = JSON.parse(storage.getItem(k));
        if (r && /^[0-9a-f]{32}$/.test(r.uploadId) && posInt(r.size)) out.push(r);
      } catch { /* ignore a damaged entry */ }
    }
    return out.sort((a, b) => String(a.savedAt).localeCompare(String(b.savedAt)));
  }

  /** Forgets a remembered upload (does not touch the server: use cancel() for that). */
  static forget(storage, uploadId) { storage?.removeItem(STORAGE_PREFIX + uploadId); }

  get percent() { return this.size ? Math.round((this.sent / this.size) * 1000) / 10 : 0; }

  /** Hashes, connects, uploads; resolves with the stored document. */
  start() {
    if (this.state !== 'idle') return Promise.reject(new UploadError('invalid_state', `start() while ${this.state}`));
    this._done = new Promise((resolve, reject) => { this._resolve = resolve; this._reject = reject; });
    this._done.catch(() => {}); // the caller's promise reports it; do not warn twice
    this._run();
    return this._done;
  }

  async _run() {
    try {
      this._setState('hashing');
      this.sha256 = await sha256Blob(this.file, { onProgress: (n, size) => this._cb.progress?.(0, { phase: 'hashing', hashed: n, size }) });
      if (this._expectSha && this._expectSha !== this.sha256) throw new UploadError('file_mismatch', 'this is not the file of the unfinished upload');
      if (this.state === 'cancelled') return;
      await this._open();
    } catch (err) {
      this._fail(err);
    }
  }

  async _open() {
    this._setState('connecting');
    const token = await this._getToken();
    const ws = new this._WebSocket(`${this._wsBase}/v2/documents/upload/stream?access_token=${encodeURIComponent(token)}`);
    ws.binaryType = 'arraybuffer';
    this._ws = ws;
    ws.onopen = () => {
      const first = this.uploadId
        ? { type: 'resume', uploadId: this.uploadId }
        : { type: 'start', ...this.meta, size: this.size, sha256: this.sha256 };
      ws.send(JSON.stringify(first));
    };
    ws.onmessage = (ev) => { if (ws === this._ws) this._onMessage(ev.data); };
    ws.onerror = () => {};
    ws.onclose = (ev) => { if (ws === this._ws) this._onClose(ev.code); };
  }

  _onMessage(data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    if (!m || typeof m.type !== 'string') return;
    if (Number.isSafeInteger(m.offset) && m.offset >= 0 && m.type !== 'error') this.durableOffset = m.offset;
    switch (m.type) {
      case 'ready':
        this.uploadId = m.uploadId;
        this._retries = 0;
        this._backoff.reset();
        this.sent = m.offset;
        this._remember();
        this._setState('uploading');
        this._progress();
        this._pump();
        break;
      case 'progress':
        this._progress();
        break;
      case 'paused':
        this.sent = m.offset;
        this._setState('paused');
        this._progress();
        this._answer('paused', m);
        break;
      case 'resumed':
        this.sent = m.offset;
        this._setState('uploading');
        this._answer('resumed', m);
        this._pump();
        break;
      case 'completed':
        this.document = m.document;
        this.sent = this.size;
        this.durableOffset = this.size;
        this._forget();
        this._setState('completed');
        this._progress();
        this._close();
        this._cb.complete?.(m.document);
        this._resolve?.(m.document);
        break;
      case 'cancelled':
        this._forget();
        this._setState('cancelled');
        this._answer('cancelled', m);
        this._close();
        this._reject?.(new UploadError('cancelled', 'the upload was cancelled'));
        break;
      case 'error': this._onError(m); break;
      default: break;
    }
  }

  _onError(m) {
    const err = new UploadError(m.code, m.message, { expectedOffset: m.expectedOffset });
    if (m.code === 'offset_mismatch' && Number.isSafeInteger(m.expectedOffset)) {
      this.sent = m.expectedOffset; // resynchronise; the pump continues from there
      return;
    }
    if (m.code === 'upload_busy') { // the connection we lost still holds it: try again shortly
      this._close();
      this._retry();
      return;
    }
    if (m.code === 'already_completed' || FATAL_CODES.has(m.code)) {
      if (m.code !== 'too_many_uploads') this._forget();
      this._fail(err);
      return;
    }
    if (this._waiter) { const w = this._waiter; this._waiter = null; w.reject(err); return; }
    this._cb.error?.(err);
  }

  _onClose(code) {
    this._ws = null;
    if (['completed', 'cancelled', 'failed', 'idle'].includes(this.state)) return;
    if (code === 4400 || code === 1009 || code === 1002) { this._fail(new UploadError('closed', `the server closed the upload stream (${code})`)); return; }
    this._retry();
  }

  _retry() {
    if (this._retries++ >= this._maxRetries) { this._fail(new UploadError('unreachable', 'the upload stream could not be resumed')); return; }
    const wasPaused = this.state === 'paused' || this.state === 'pausing';
    this._setState('reconnecting');
    this._setTimeout(async () => {
      if (['completed', 'cancelled', 'failed'].includes(this.state)) return;
      try {
        if (wasPaused) { this._setState('paused'); return; } // stay paused; resume() reconnects
        await this._open();
      } catch (err) { this._fail(err); }
    }, this._backoff.next());
  }

  /** Sends chunks until done or no longer uploading; one pump at a time. */
  _pump() {
    if (this._pumping) return this._pumping;
    this._pumping = (async () => {
      const startedAt = this._now();
      const startedFrom = this.sent;
      while (this.state === 'uploading' && this._ws && this.sent < this.size) {
        const ws = this._ws;
        if (ws.bufferedAmount > this.chunkSize * 2) { await this._sleep(4); continue; }
        if (this.maxBytesPerSecond) {
          const ahead = (this.sent - startedFrom) / this.maxBytesPerSecond * 1000 - (this._now() - startedAt);
          if (ahead > 0) { await this._sleep(Math.min(ahead, 200)); continue; }
        }
        const off = this.sent;
        const n = Math.min(this.chunkSize, this.size - off, this.maxBytesPerSecond ? Math.max(1024, Math.floor(this.maxBytesPerSecond / 10)) : Infinity);
        const bytes = new Uint8Array(await this.file.slice(off, off + n).arrayBuffer());
        if (this.state !== 'uploading' || this._ws !== ws || this.sent !== off) continue;
        const msg = new Uint8Array(8 + bytes.length);
        new DataView(msg.buffer).setBigUint64(0, BigInt(off));
        msg.set(bytes, 8);
        ws.send(msg);
        this.sent = off + bytes.length;
        this._progress();
      }
    })().finally(() => { this._pumping = null; });
    return this._pumping;
  }

  /** Stops sending; resolves with {offset} once the server says everything received is on disk. */
  async pause() {
    if (this.state !== 'uploading') throw new UploadError('invalid_state', `pause() while ${this.state}`);
    this._setState('pausing');
    await this._pumping;
    const m = await this._request({ type: 'pause' }, ['paused']);
    return { offset: m.offset };
  }

  /** Continues a paused upload (over the same connection, or a new one if it was lost). */
  async resume() {
    if (this.state !== 'paused') throw new UploadError('invalid_state', `resume() while ${this.state}`);
    if (!this._ws) { await this._open(); return; }
    await this._request({ type: 'resume' }, ['resumed']);
  }

  /** Deletes the upload on the server (and forgets it). */
  async cancel() {
    if (['completed', 'cancelled', 'failed'].includes(this.state)) return;
    if (this.state === 'uploading') { this._setState('pausing'); await this._pumping; }
    if (!this.uploadId) { this._setState('cancelled'); this._close(); this._reject?.(new UploadError('cancelled', 'cancelled')); return; }
    if (!this._ws || this._ws.readyState !== 1) {
      // No usable connection: a fresh one may cancel by id as its first message.
      this._close();
      const token = await this._getToken();
      const ws = new this._WebSocket(`${this._wsBase}/v2/documents/upload/stream?access_token=${encodeURIComponent(token)}`);
      this._ws = ws;
      ws.onmessage = (ev) => { if (ws === this._ws) this._onMessage(ev.data); };
      ws.onclose = () => { if (ws === this._ws) this._ws = null; };
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new UploadError('unreachable', 'could not connect to cancel')); });
      await this._request({ type: 'cancel', uploadId: this.uploadId }, ['cancelled']);
      return;
    }
    await this._request({ type: 'cancel' }, ['cancelled']);
  }

  _request(msg, types) {
    if (this._waiter) return Promise.reject(new UploadError('busy', 'another request is in progress'));
    return new Promise((resolve, reject) => {
      this._waiter = { types, resolve, reject };
      this._ws.send(JSON.stringify(msg));
    });
  }

  _answer(type, m) {
    if (this._waiter && this._waiter.types.includes(type)) { const w = this._waiter; this._waiter = null; w.resolve(m); }
  }

  _progress() {
    this._cb.progress?.(this.percent, { phase: 'upload', sent: this.sent, durableOffset: this.durableOffset, size: this.size, uploadId: this.uploadId });
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this._cb.status?.(s, this);
  }

  _fail(err) {
    if (['completed', 'cancelled', 'failed'].includes(this.state)) return;
    this._setState('failed');
    this._close();
    if (this._waiter) { const w = this._waiter; this._waiter = null; w.reject(err); }
    this._cb.error?.(err);
    this._reject?.(err);
  }

  _close() {
    const ws = this._ws;
    this._ws = null;
    if (ws) { try { ws.close(1000); } catch { /* already closed */ } }
  }

  _sleep(ms) { return new Promise((r) => this._setTimeout(r, ms)); }

  _remember() {
    if (!this._storage || !this.uploadId) return;
    // Never the document number: the server has it, and an Aadhaar number has no business in
    // localStorage. A resume by id needs only the id and the file.
    const meta = { ...this.meta };
    delete meta.documentNumber;
    const rec = { uploadId: this.uploadId, ...meta, size: this.size, sha256: this.sha256,
      lastModified: this.file.lastModified ?? null, savedAt: new Date().toISOString() };
    try { this._storage.setItem(STORAGE_PREFIX + this.uploadId, JSON.stringify(rec)); } catch { /* quota */ }
  }

  _forget() { if (this._storage && this.uploadId) DocumentUpload.forget(this._storage, this.uploadId); }
}
