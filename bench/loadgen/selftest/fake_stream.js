// A deliberately awkward stand-in for bellhop's stream, to test bh_load's client side.
// Speaks just enough of the protocol (upgrade, JSON handshake -> ack, POST publish -> events
// message with a per-connection "seq"), and delivers each event in one of several shapes, in
// turn: a single frame; three fragments with a ping between them; a frame written a few bytes
// at a time (1 ms apart, so each piece arrives in its own read); two events batched in one message (the second publish waits for the next one).
// It also pings every connection every 100 ms and counts the pongs (GET /stats).
//
//   node fake_stream.js PORT        (prints "listening PORT" when ready)
'use strict';
const http = require('http');
const crypto = require('crypto');

const port = Number(process.argv[2] || 0);
const conns = new Set();
let pongs = 0, published = 0, held = null;

function frame(op, payload, fin = true) {
  const n = payload.length;
  let head;
  if (n < 126) head = Buffer.from([(fin ? 0x80 : 0) | op, n]);
  else if (n < 65536) { head = Buffer.alloc(4); head[0] = (fin ? 0x80 : 0) | op; head[1] = 126; head.writeUInt16BE(n, 2); }
  else { head = Buffer.alloc(10); head[0] = (fin ? 0x80 : 0) | op; head[1] = 127; head.writeBigUInt64BE(BigInt(n), 2); }
  return Buffer.concat([head, payload]);
}

// Every write goes through one queue per connection, so a dribbled frame is never interleaved
// with a ping or another message.
function put(c, buf, dribble = false) {
  c.q.push({ buf, dribble, sent: 0 });
  if (!c.pumping) pump(c);
}

function pump(c) {
  c.pumping = true;
  while (c.q.length) {
    if (c.sock.destroyed) { c.q = []; break; }
    const item = c.q[0];
    if (!item.dribble) { c.sock.write(item.buf); c.q.shift(); continue; }
    // 7-byte pieces through the frame header and into the payload, then the rest in halves.
    const piece = item.sent < 42 ? 7 : Math.max(7, Math.ceil(item.buf.length / 2));
    c.sock.write(item.buf.subarray(0, piece));
    item.buf = item.buf.subarray(piece);
    item.sent += piece;
    if (!item.buf.length) c.q.shift();
    setTimeout(() => pump(c), 1);
    return;
  }
  c.pumping = false;
}

function send(c, events, shape) {
  const msg = Buffer.from(JSON.stringify({ type: 'events', seq: c.seq++, service: 'finance', events }));
  if (shape === 1) {               // fragmented, with a ping in the middle
    const a = Math.floor(msg.length / 3), b = Math.floor((2 * msg.length) / 3);
    put(c, frame(1, msg.subarray(0, a), false));
    put(c, frame(9, Buffer.from('mid')));
    put(c, frame(0, msg.subarray(a, b), false));
    put(c, frame(0, msg.subarray(b), true));
  } else if (shape === 2) {        // one frame, dribbled out in 7-byte writes
    put(c, frame(1, msg), true);
  } else {
    put(c, frame(1, msg));
  }
}

function onFrames(c, chunk) {
  c.buf = Buffer.concat([c.buf, chunk]);
  for (;;) {
    if (c.buf.length < 2) return;
    let n = c.buf[1] & 0x7f, off = 2;
    if (n === 126) { if (c.buf.length < 4) return; n = c.buf.readUInt16BE(2); off = 4; }
    else if (n === 127) { if (c.buf.length < 10) return; n = Number(c.buf.readBigUInt64BE(2)); off = 10; }
    if (!(c.buf[1] & 0x80)) { c.sock.destroy(); return; }   // clients must mask
    if (c.buf.length < off + 4 + n) return;
    const mask = c.buf.subarray(off, off + 4);
    const p = Buffer.from(c.buf.subarray(off + 4, off + 4 + n));
    for (let i = 0; i < n; i++) p[i] ^= mask[i & 3];
    const op = c.buf[0] & 0x0f;
    c.buf = c.buf.subarray(off + 4 + n);
    if (op === 0xA) pongs++;
    else if (op === 0x8) { put(c, frame(8, p.subarray(0, 2))); conns.delete(c); }
    else if (op === 0x1 && !c.open) {
      const hs = JSON.parse(p.toString());
      if (!Array.isArray(hs.services)) { c.sock.destroy(); return; }
      c.open = true;
      put(c, frame(1, Buffer.from(JSON.stringify({ type: 'ack', seq: c.seq++, services: hs.services }))));
      conns.add(c);
    }
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ connections: conns.size, pongs, published }));
    return;
  }
  if (req.method !== 'POST' || req.url !== '/v2/realtime/publish') { res.statusCode = 404; res.end(); return; }
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    const ev = JSON.parse(body);
    const event = { id: `x-${++published}`, service: ev.service, type: ev.type, orgId: ev.orgId, offset: published, data: ev.data };
    const shape = published % 4;
    let events = [event];
    if (shape === 3) {                                          // batched with the next one,
      held = event; events = null;                              // or alone after 40 ms
      setTimeout(() => {
        if (held !== event) return;
        held = null;
        for (const c of conns) send(c, [event], 0);
      }, 40);
    }
    else if (held) { events = [held, event]; held = null; }
    if (events) for (const c of conns) send(c, events, shape);
    res.statusCode = 201;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ offset: published }));
  });
});

server.on('upgrade', (req, sock, head) => {
  const key = req.headers['sec-websocket-key'];
  if (!key || req.headers.authorization !== 'Bearer selftest') {
    sock.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.setNoDelay(true);
  sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const c = { sock, buf: Buffer.alloc(0), seq: 0, open: false, q: [], pumping: false };
  sock.on('data', (d) => onFrames(c, d));
  sock.on('error', () => {});
  sock.on('close', () => conns.delete(c));
  if (head && head.length) onFrames(c, head);
});

setInterval(() => { for (const c of conns) put(c, frame(9, Buffer.from('hb'))); }, 100).unref();
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
