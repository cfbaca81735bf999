// Regression (found by fuzz/fuzz_upload_ws): WebSocket messages sent in the same TCP write as the
// upgrade request are delivered inside the upgrade itself. The upload stream dereferenced its
// connection before storing it, so one such packet crashed the server. Each stream must answer
// them, and the server must stay up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawConnect } from './support/server.mjs';

let srv;
let token;
before(async () => {
  srv = await startServer({ args: ['--demo'] });
  token = srv.token({ org: 1, user: 1, role: 'owner' });
});
after(async () => { await srv?.stop(); });

/** A masked client text frame (RFC 6455 5.3). */
function frame(text) {
  const p = Buffer.from(text);
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const h = p.length < 126 ? Buffer.from([0x81, 0x80 | p.length]) : Buffer.from([0x81, 0x80 | 126, p.length >> 8, p.length & 255]);
  return Buffer.concat([h, mask, Buffer.from(p.map((b, i) => b ^ mask[i & 3]))]);
}

for (const [path, first, answer] of [
  ['/v2/documents/upload/stream', '{"type":"ping"}', /"type":"pong"/],
  ['/v2/documents/upload/stream', '{"type":"start","documentType":"image"}', /"type":"error"/],
  ['/v2/realtime/stream', '{"type":"handshake","version":1,"services":["finance"]}', /"type":"ack"/],
  ['/v2/collaboration/chat/stream', '{"type":"ping"}', /"type":"pong"/],
]) {
  test(`${path}: a message in the upgrade packet is answered and the server stays up (${first})`, async () => {
    const c = await rawConnect(srv.port);
    c.socket.write(Buffer.concat([
      Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        + `Authorization: Bearer ${token}\r\n\r\n`),
      frame(first),
    ]));
    await c.waitData(answer);
    assert.match(c.data, /^HTTP\/1\.1 101 /);
    c.close();
    const h = await srv.fetch('/health');
    assert.equal(h.status, 200);
    await h.arrayBuffer();
  });
}
