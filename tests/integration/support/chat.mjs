// Helpers for black-box tests of the chat stream (GET /v2/collaboration/chat/stream).
//
//   const a = await openChat(srv, { token });        // resolves after the "ready" message
//   const j = await join(a, 'property-1');           // the "joined" answer (or the error)
//   const ack = await say(a, 'property-1', 'hi');    // the "ack" (or the error); clientMsgId made up
//   const m = await a.next((m) => m.type === 'message');
//
// Clients are StreamClients (support/stream.mjs): every message is queued, next() takes the first
// match with a bounded wait, assertSeqs() checks seq 0, 1, 2, ... Call closeAll() in afterEach.
import WebSocket from 'ws';
import { StreamClient } from './stream.mjs';

export const CHAT_PATH = '/v2/collaboration/chat/stream';

let counter = 0;
export function cid(prefix = 'c') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** Opens a chat connection and waits for "ready". Rejects with err.status when refused. */
export function openChat(srv, { token, via = 'header', timeoutMs = 5000 } = {}) {
  const headers = {};
  let q = '';
  if (token && via === 'header') headers.authorization = `Bearer ${token}`;
  if (token && via === 'query') q = `?access_token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}${CHAT_PATH}${q}`, { headers, handshakeTimeout: timeoutMs });
  const c = new StreamClient(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', async () => {
      try {
        c.ready = await c.nextType('ready', timeoutMs);
        resolve(c);
      } catch (err) {
        reject(err);
      }
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        const err = new Error(`upgrade refused: HTTP ${res.statusCode} ${body}`);
        err.status = res.statusCode;
        try { err.json = JSON.parse(body); } catch { /* not JSON */ }
        req.destroy();
        reject(err);
      });
    });
    ws.once('error', reject);
  });
}

/** Joins roomId; resolves with the "joined" answer or the error about that room. */
export function join(c, roomId, timeoutMs = 3000) {
  c.send({ type: 'join', roomId });
  return c.next((m) => (m.type === 'joined' || m.type === 'error') && m.roomId === roomId, timeoutMs,
    `the answer to joining ${roomId}`);
}

/** Sends a message; resolves with its "ack" or the error about it. */
export function say(c, roomId, text, clientMsgId = cid(), timeoutMs = 3000) {
  c.send({ type: 'message', roomId, clientMsgId, text });
  return c.next((m) => (m.type === 'ack' || m.type === 'error') && m.clientMsgId === clientMsgId,
    timeoutMs, `the ack of ${clientMsgId}`);
}

/** The message of the next "message" broadcast in roomId (optionally matching pred). */
export async function nextMessage(c, roomId, pred = () => true, timeoutMs = 3000) {
  const m = await c.next((x) => x.type === 'message' && x.roomId === roomId && pred(x.message), timeoutMs,
    `a message in ${roomId}`);
  return m.message;
}

/** The next presence event about userId with the given status. */
export function nextPresence(c, userId, status, timeoutMs = 3000) {
  return c.next((m) => m.type === 'presence' && m.userId === userId && (!status || m.status === status),
    timeoutMs, `presence ${status || ''} of user ${userId}`);
}

/** Resolves true if no message matching pred arrives within ms (a bounded negative check). */
export async function quiet(c, pred, ms) {
  try {
    await c.next(pred, ms, 'nothing');
    return false;
  } catch (err) {
    if (/timed out/.test(err.message)) return true;
    throw err;
  }
}

/** Demo organisation tokens (org 1): users 1 owner, 2 admin, 3 manager (properties 1, 2),
 * 5 front desk (property 1), 7 staff (property 2). */
export function demoTokens(srv) {
  return {
    owner: srv.token({ org: 1, user: 1, role: 'owner', name: 'Asha Owner' }),
    admin: srv.token({ org: 1, user: 2, role: 'admin', name: 'Ravi Admin' }),
    manager: srv.token({ org: 1, user: 3, role: 'manager', properties: [1, 2], name: 'Meera Manager' }),
    frontdesk: srv.token({ org: 1, user: 5, role: 'front_desk', properties: [1], name: 'Priya Front Desk' }),
    staff: srv.token({ org: 1, user: 7, role: 'staff', properties: [2], name: 'Sam Staff' }),
  };
}
