// Incremental SHA-256 (FIPS 180-4), written for this project.
//
// WebCrypto's crypto.subtle.digest() only hashes a whole buffer at once, so hashing a 256 MiB
// spreadsheet with it means holding all of it in memory. This one is fed in pieces:
//
//   const h = new Sha256(); h.update(bytes1); h.update(bytes2); h.hex();
//   await sha256Blob(file, { chunkSize: 1 << 20, onProgress })   // bounded memory
//
// The round constants and initial hash values are derived at load time, exactly, with BigInt
// integer roots (the first 32 bits of the fractional parts of the cube / square roots of the
// first primes), rather than typed in.

function primes(n) {
  const out = [];
  for (let c = 2; out.length < n; c++) if (out.every((p) => c % p !== 0)) out.push(c);
  return out;
}

/** floor(x^(1/k)) for a BigInt x >= 0 (Newton's method on integers). */
function iroot(x, k) {
  if (x < 2n) return x;
  const K = BigInt(k);
  let r = 1n << (BigInt(x.toString(2).length) / K + 1n); // above the root
  for (;;) {
    const next = ((K - 1n) * r + x / r ** (K - 1n)) / K;
    if (next >= r) return r;
    r = next;
  }
}

const P = primes(64);
const fracBits = (p, k) => Number(iroot(BigInt(p) << BigInt(32 * k), k) & 0xffffffffn);
const K = new Uint32Array(P.map((p) => fracBits(p, 3)));
const H0 = new Uint32Array(P.slice(0, 8).map((p) => fracBits(p, 2)));

export class Sha256 {
  constructor() {
    this._h = new Uint32Array(H0);
    this._w = new Uint32Array(64);
    this._block = new Uint8Array(64); // a partial block carried between updates
    this._used = 0; // bytes in _block
    this._bytes = 0; // total length so far (safe up to 2^53)
    this._done = false;
  }

  /** Adds bytes (Uint8Array, ArrayBuffer or a typed array view). Returns this. */
  update(data) {
    if (this._done) throw new Error('sha256: update after digest');
    const b = data instanceof Uint8Array ? data
      : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : data instanceof ArrayBuffer ? new Uint8Array(data) : null;
    if (!b) throw new TypeError('sha256: update() takes bytes');
    let i = 0;
    this._bytes += b.length;
    if (this._used > 0) {
      const n = Math.min(64 - this._used, b.length);
      this._block.set(b.subarray(0, n), this._used);
      this._used += n;
      i = n;
      if (this._used < 64) return this;
      this._compress(this._block, 0);
      this._used = 0;
    }
    for (; i + 64 <= b.length; i += 64) this._compress(b, i);
    if (i < b.length) { this._block.set(b.subarray(i), 0); this._used = b.length - i; }
    return this;
  }

  /** The digest as 32 bytes; the object cannot be updated afterwards. */
  digest() {
    if (!this._done) {
      const bits = this._bytes * 8;
      const pad = new Uint8Array((this._used < 56 ? 64 : 128) - this._used);
      pad[0] = 0x80;
      const dv = new DataView(pad.buffer);
      dv.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
      dv.setUint32(pad.length - 4, bits >>> 0);
      const total = this._bytes;
      this.update(pad);
      this._bytes = total;
      this._done = true;
    }
    const out = new Uint8Array(32);
    const dv = new DataView(out.buffer);
    for (let j = 0; j < 8; j++) dv.setUint32(j * 4, this._h[j]);
    return out;
  }

  hex() {
    return Array.from(this.digest(), (x) => x.toString(16).padStart(2, '0')).join('');
  }

  _compress(b, off) {
    const w = this._w;
    for (let j = 0; j < 16; j++) {
      const o = off + j * 4;
      w[j] = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
    }
    for (let j = 16; j < 64; j++) {
      const x = w[j - 15];
      const y = w[j - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[j] = (w[j - 16] + s0 + w[j - 7] + s1) | 0;
    }
    const h = this._h;
    let a = h[0]; let bb = h[1]; let c = h[2]; let d = h[3];
    let e = h[4]; let f = h[5]; let g = h[6]; let hh = h[7];
    for (let j = 0; j < 64; j++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[j] + w[j]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = (S0 + maj) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0;
      d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + bb) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
  }
}

/** Hex SHA-256 of bytes in one call. */
export function sha256Hex(bytes) {
  return new Sha256().update(bytes).hex();
}

/**
 * Hex SHA-256 of a Blob/File read in `chunkSize` slices, so memory stays bounded by one slice.
 * onProgress(bytesHashed, size) after each slice; `signal` (AbortSignal) stops it.
 */
export async function sha256Blob(blob, { chunkSize = 1 << 20, onProgress, signal } = {}) {
  const h = new Sha256();
  for (let off = 0; off < blob.size; off += chunkSize) {
    if (signal?.aborted) throw Object.assign(new Error('sha256: aborted'), { name: 'AbortError' });
    const buf = await blob.slice(off, Math.min(blob.size, off + chunkSize)).arrayBuffer();
    h.update(new Uint8Array(buf));
    onProgress?.(Math.min(blob.size, off + chunkSize), blob.size);
  }
  return h.hex();
}
