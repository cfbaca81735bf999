// Origin checks on WebSocket upgrades, for all three streams (the realtime stream has its own
// tests in stream_handshake and stream_edges): with an allow-list, a foreign Origin is refused
// before authentication, whatever carries the token (header, query, cookie); an allowed Origin
// and no Origin (not a browser) pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, rawConnect } from './support/server.mjs';

let srv;
let token;
before(async () => {
  srv = await startServer({ args: ['--demo'], env: { BELLHOP_ALLOWED_ORIGINS: 'https://app.example' } });
  token = srv.token({ org: 1, user: 1, role: 'owner' });
});
after(async () => { await srv?.stop(); });

async function upgrade(path, { origin, auth = 'header' } = {}) {
  const c = await rawConnect(srv.port);
  const q = auth === 'query' ? `?access_token=${token}` : '';
  c.write(`GET ${path}${q} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nUpgrade: websocket\r\n`
    + 'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
    + (origin ? `Origin: ${origin}\r\n` : '')
    + (auth === 'header' ? `Authorization: Bearer ${token}\r\n` : '')
    + (auth === 'cookie' ? `Cookie: bellhop_token=${token}\r\n` : '')
    + '\r\n');
  const head = await c.waitData(/\r\n\r\n/);
  c.close();
  return head;
}

for (const path of ['/v2/realtime/stream', '/v2/collaboration/chat/stream', '/v2/documents/upload/stream']) {
  test(`${path}: a foreign Origin is 403 origin_not_allowed with any credential; allowed or absent Origin upgrades`, async () => {
    for (const auth of ['header', 'query', 'cookie']) {
      const r = await upgrade(path, { origin: 'https://evil.example', auth });
      assert.match(r, /^HTTP\/1\.1 403 /, `${auth}: ${r.slice(0, 200)}`);
    }
    const refused = await (async () => {
      const c = await rawConnect(srv.port);
      c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + 'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: https://evil.example\r\n'
        + `Authorization: Bearer ${token}\r\n\r\n`);
      const d = await c.waitData(/\r\n\r\n[\s\S]*\}/);
      c.close();
      return d;
    })();
    assert.match(refused, /"code":"origin_not_allowed"/);
    assert.match(await upgrade(path, { origin: 'https://app.example' }), /^HTTP\/1\.1 101 /);
    assert.match(await upgrade(path, {}), /^HTTP\/1\.1 101 /);
  });
}

// With the default allow-list "*", any page may open a socket, but a cookie is sent by the
// browser whatever page opens it: a cookie credential counts only from the server's own origin
// (or one listed explicitly), while a token in the query or header (which a page must know)
// still works from anywhere.
test('allow-list "*": a cookie credential is refused from a foreign Origin, accepted from the same origin', async () => {
  const open = await startServer({ args: ['--demo'] });
  try {
    const t = open.token({ org: 1, user: 1, role: 'owner' });
    const up = async (path, { origin, auth }) => {
      const c = await rawConnect(open.port);
      c.write(`GET ${path}${auth === 'query' ? `?access_token=${t}` : ''} HTTP/1.1\r\nHost: 127.0.0.1:${open.port}\r\n`
        + 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        + (origin ? `Origin: ${origin}\r\n` : '') + (auth === 'cookie' ? `Cookie: bellhop_token=${t}\r\n` : '') + '\r\n');
      const d = await c.waitData(/^HTTP\/1\.1 101 [\s\S]*\r\n\r\n|\r\n\r\n[\s\S]*\}/);
      c.close();
      return d;
    };
    for (const path of ['/v2/realtime/stream', '/v2/collaboration/chat/stream', '/v2/documents/upload/stream']) {
      const evil = await up(path, { origin: 'https://evil.example', auth: 'cookie' });
      assert.match(evil, /^HTTP\/1\.1 403 /, `${path}: ${evil.slice(0, 120)}`);
      assert.match(evil, /"code":"origin_not_allowed"/);
      assert.match(await up(path, { origin: `http://127.0.0.1:${open.port}`, auth: 'cookie' }), /^HTTP\/1\.1 101 /);
      assert.match(await up(path, { auth: 'cookie' }), /^HTTP\/1\.1 101 /);
      assert.match(await up(path, { origin: 'https://evil.example', auth: 'query' }), /^HTTP\/1\.1 101 /);
    }
  } finally {
    await open.stop();
  }
});
