// bellhop's browser client library: plain ES modules, no build step (types in index.d.ts).
export { RealtimeClient, SERVICES, FATAL_CLOSE_CODES, wsBase } from './realtime.js';
export { DocumentUpload, UploadError, DOCUMENT_TYPES } from './upload.js';
export { ChatClient, ChatError, canonicalRoomId, ROOM_ID_RE } from './chat.js';
export { Sha256, sha256Hex, sha256Blob } from './sha256.js';
export { createBackoff } from './backoff.js';
export { createApi, ApiError } from './api.js';
