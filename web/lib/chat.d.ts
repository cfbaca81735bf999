// Types: see index.d.ts.
export { ChatClient, ChatError, canonicalRoomId, ROOM_ID_RE } from './index.js';
