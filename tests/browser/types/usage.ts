// Compiled by types.test.mjs with tsc --strict --noEmit: the README's three examples, typed.
import { RealtimeClient, DocumentUpload, ChatClient, type StreamEvent, type GuestDocument } from '../../../web/lib/index.js';
import { sha256Hex } from '../../../web/lib/sha256.js';

declare const token: string;
declare const selectedFile: File;

// Example 1: listen for realtime events.
const rt = new RealtimeClient({ token, services: ['finance', 'guest', 'staff'] });
rt.start();
window.addEventListener('finance-stream-events', (event) => {
  const { events } = event.detail;
  const offsets: number[] = events.map((e: StreamEvent) => e.offset);
  console.log('Finance events:', offsets);
});
const off = rt.on('events', (service, events, source) => console.log(service, events.length, source));
rt.on('reset', ({ service, offset, reason }) => console.log(service, offset, reason));
off();

// Example 2: upload a document with streaming.
const up = new DocumentUpload({
  getToken: async () => token, file: selectedFile, documentType: 'aadhaar', guestId: 123, propertyId: 456,
  onProgress: (percent) => console.log(`${percent}%`),
  onComplete: (doc: GuestDocument) => console.log('Uploaded!', doc.id, doc.sha256),
  storage: localStorage,
});
void up.start().then((doc) => doc.size);
void up.pause().then(({ offset }) => offset);
for (const p of DocumentUpload.pending(localStorage)) console.log(p.uploadId, p.fileName);

// Example 3: real-time chat.
const chat = new ChatClient({ token });
void (async () => {
  await chat.connect();
  const joined = await chat.join('property-456');
  console.log(joined.members.filter((m) => m.status === 'online').map((m) => m.userName));
  chat.on('message', (m) => console.log(`${m.message.userName}: ${m.message.text}`));
  chat.on('typing', (t) => console.log(t.userName, t.state));
  const ack = await chat.send('property-456', 'hello');
  await chat.markRead('property-456', ack.id);
  chat.typingStart('property-456');
})();

console.log(sha256Hex(new Uint8Array([1, 2, 3])).length);
// @ts-expect-error: not a service
new RealtimeClient({ token, services: ['nope'] });
