// Types for bellhop's browser client library (web/lib/*.js). Plain ES modules, no build step:
// import from '/lib/index.js' (served by bellhop) or copy web/lib into your app.

// ---------------------------------------------------------------- shared

export type ServiceName = 'finance' | 'guest' | 'staff' | 'tasks' | 'properties' | 'users' | 'dashboard'
  | 'branding' | 'analytics' | 'reports';
export const SERVICES: readonly ServiceName[];
export const FATAL_CLOSE_CODES: ReadonlySet<number>;

export interface BackoffOptions {
  /** First delay, ms (realtime default 500). */
  initialMs?: number;
  /** Cap, ms (realtime default 30000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** 0..1: the delay is scaled into [base * (1 - jitter), base] (default 0.5). */
  jitter?: number;
  random?: () => number;
}
export interface Backoff {
  next(): number;
  reset(): void;
  readonly attempt: number;
}
export function createBackoff(opts?: BackoffOptions): Backoff;

/** What the clients need from the environment; the browser's globals by default. */
export interface Timers {
  setTimeout(fn: () => void, ms?: number): unknown;
  clearTimeout(id: unknown): void;
}
export type WebSocketConstructor = new (url: string) => WebSocket;
export type TokenSource = { token: string; getToken?: never } | { getToken: () => string | Promise<string>; token?: never };
export interface StorageLike {
  readonly length: number;
  key(i: number): string | null;
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

// ---------------------------------------------------------------- realtime

export interface StreamEvent<D = Record<string, unknown>> {
  id: string;
  service: ServiceName;
  type: string;
  orgId: number;
  propertyId?: number | null;
  offset: number;
  timestamp: string;
  data: D;
}
export interface Position { offset: number; epoch: string }
export interface ResetInfo {
  service: ServiceName;
  offset: number;
  epoch: string;
  reason: 'history_window_exceeded' | 'epoch_changed' | 'offset_ahead' | string;
}
export type RealtimeStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'polling' | 'failed' | 'stopped';
export type Transport = 'websocket' | 'polling';
export interface StatusInfo {
  transports: Record<string, Transport>;
  connectionId?: string | null;
  code?: number;
  reason?: string;
  delay?: number;
  attempt?: number;
}
/** `detail` of the window events `<service>-stream-events` (the seed's Example 1). */
export interface StreamEventsDetail { service: ServiceName; events: StreamEvent[] }

export type RealtimeClientOptions = TokenSource & {
  services: ServiceName[];
  /** http(s) origin of the server; default location.origin. */
  baseUrl?: string;
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  /** Where the CustomEvents go; default window (null: none). */
  target?: EventTarget | null;
  /** Keeps positions across page loads (e.g. sessionStorage). */
  storage?: Pick<StorageLike, 'getItem' | 'setItem'> | null;
  storageKey?: string;
  backoff?: Omit<BackoffOptions, 'random'>;
  /** Long-poll hold time asked of the server, s (default 25). */
  pollTimeoutS?: number;
  /** While polling because of flags: how often to ask /v2/realtime/config, ms (default 30000). */
  configCheckMs?: number;
  onEvents?: (service: ServiceName, events: StreamEvent[], source: Transport) => void;
  onReset?: (info: ResetInfo) => void;
  onStatus?: (status: RealtimeStatus, info: StatusInfo) => void;
  onError?: (err: Error & { code?: string; closeCode?: number; status?: number }) => void;
};

export class RealtimeClient {
  constructor(opts: RealtimeClientOptions);
  readonly services: ServiceName[];
  readonly status: RealtimeStatus;
  readonly connectionId: string | null;
  /** Successful reconnects since start(). */
  readonly reconnects: number;
  readonly positions: Record<string, Position>;
  readonly transports: Record<string, Transport>;
  start(): this;
  stop(): void;
  reconnectNow(): void;
  on(kind: 'events', cb: (service: ServiceName, events: StreamEvent[], source: Transport) => void): () => void;
  on(kind: 'reset', cb: (info: ResetInfo) => void): () => void;
  on(kind: 'status', cb: (status: RealtimeStatus, info: StatusInfo) => void): () => void;
  on(kind: 'error', cb: (err: Error & { code?: string; closeCode?: number }) => void): () => void;
}

declare global {
  interface WindowEventMap {
    'finance-stream-events': CustomEvent<StreamEventsDetail>;
    'guest-stream-events': CustomEvent<StreamEventsDetail>;
    'staff-stream-events': CustomEvent<StreamEventsDetail>;
    'tasks-stream-events': CustomEvent<StreamEventsDetail>;
    'properties-stream-events': CustomEvent<StreamEventsDetail>;
    'users-stream-events': CustomEvent<StreamEventsDetail>;
    'dashboard-stream-events': CustomEvent<StreamEventsDetail>;
    'branding-stream-events': CustomEvent<StreamEventsDetail>;
    'analytics-stream-events': CustomEvent<StreamEventsDetail>;
    'reports-stream-events': CustomEvent<StreamEventsDetail>;
    'realtime-status': CustomEvent<StatusInfo & { status: RealtimeStatus }>;
  }
}

// ---------------------------------------------------------------- uploads

export type DocumentType = 'aadhaar' | 'passport' | 'driving_license' | 'pan_card' | 'election_card' | 'visa'
  | 'image' | 'csv' | 'excel';
export const DOCUMENT_TYPES: readonly DocumentType[];

export interface GuestDocument {
  id: number;
  orgId: number;
  propertyId: number;
  guestId: number;
  documentType: DocumentType;
  fileName: string;
  mimeType: string;
  size: number;
  sha256: string;
  documentNumber: string | null;
  createdBy: number;
  createdAt: string;
}
export type UploadState = 'idle' | 'hashing' | 'connecting' | 'uploading' | 'pausing' | 'paused' | 'reconnecting'
  | 'completed' | 'cancelled' | 'failed';
export interface UploadProgress {
  phase: 'hashing' | 'upload';
  /** Hashing: bytes hashed so far. */
  hashed?: number;
  /** Upload: bytes handed to the socket. */
  sent?: number;
  /** Upload: bytes the server has on disk (fsync'ed). */
  durableOffset?: number;
  size: number;
  uploadId?: string | null;
}
/** What storage remembers about an unfinished upload (DocumentUpload.pending). */
export interface PendingUpload {
  uploadId: string;
  documentType: DocumentType;
  guestId: number;
  propertyId: number;
  fileName: string;
  mimeType: string;
  size: number;
  sha256: string;
  lastModified: number | null;
  savedAt: string;
}
export class UploadError extends Error {
  code: string;
  expectedOffset?: number;
}

export type DocumentUploadOptions = TokenSource & {
  file: Blob;
  documentType: DocumentType;
  guestId: number;
  propertyId: number;
  documentNumber?: string;
  fileName?: string;
  mimeType?: string;
  /** Continue this upload (after a reload) instead of starting one. */
  uploadId?: string;
  /** With uploadId: the file must hash to this (from PendingUpload.sha256). */
  sha256?: string;
  baseUrl?: string;
  /** Bytes per chunk message, 1..4 MiB (default 1 MiB). */
  chunkSize?: number;
  /** 0 = unlimited. */
  maxBytesPerSecond?: number;
  /** Remembers the upload for a reload (localStorage). */
  storage?: StorageLike | null;
  WebSocket?: WebSocketConstructor;
  timers?: Pick<Timers, 'setTimeout'>;
  now?: () => number;
  backoff?: BackoffOptions;
  /** Reconnect attempts before failing (default 8). */
  maxRetries?: number;
  onProgress?: (percent: number, info: UploadProgress) => void;
  onComplete?: (document: GuestDocument) => void;
  onError?: (err: UploadError | Error) => void;
  onStatus?: (state: UploadState, upload: DocumentUpload) => void;
};

export class DocumentUpload {
  constructor(opts: DocumentUploadOptions);
  static pending(storage: StorageLike | null | undefined): PendingUpload[];
  static forget(storage: StorageLike | null | undefined, uploadId: string): void;
  readonly state: UploadState;
  readonly uploadId: string | null;
  readonly sha256: string | null;
  readonly size: number;
  readonly sent: number;
  readonly durableOffset: number;
  readonly percent: number;
  readonly document: GuestDocument | null;
  /** Hashes the file, uploads it; resolves with the stored document. */
  start(): Promise<GuestDocument>;
  pause(): Promise<{ offset: number }>;
  resume(): Promise<void>;
  cancel(): Promise<void>;
}

// ---------------------------------------------------------------- chat

export type PresenceStatus = 'online' | 'away' | 'offline';
export interface ChatMessage {
  id: number;
  roomId: string;
  userId: number;
  userName: string;
  text: string | null;
  clientMsgId: string;
  timestamp: string;
  edited: boolean;
  editedAt: string | null;
  deleted: boolean;
  deletedAt: string | null;
}
export interface ChatMember { userId: number; userName: string; status: PresenceStatus; lastActiveAt: string | null; lastReadId: number }
export interface ChatReady {
  type: 'ready';
  connectionId: string;
  userId: number;
  orgId: number;
  userName: string;
  heartbeatMs: number;
  limits: { historySize: number; maxMessageLength: number; ratePerSecond: number; burst: number; maxRooms: number;
    typingTimeoutMs: number; awayAfterMs: number; offlineGraceMs: number };
}
export interface ChatJoined {
  type: 'joined';
  roomId: string;
  room: { kind: 'org' | 'property' | 'task' | 'dm'; propertyId: number | null; taskId: number | null };
  messages: ChatMessage[];
  hasMore: boolean;
  nextBefore: number | null;
  unreadCount: number;
  lastReadId: number;
  members: ChatMember[];
}
export interface ChatHistory { type: 'history'; roomId: string; messages: ChatMessage[]; hasMore: boolean; nextBefore: number | null }
export interface ChatAck { type: 'ack'; roomId: string; clientMsgId: string; id: number; timestamp: string; duplicate: boolean; message: ChatMessage }
export interface ChatRead { type: 'read'; roomId: string; userId: number; messageId: number }
export interface ChatTyping { type: 'typing'; roomId: string; userId: number; userName: string; state: 'start' | 'stop' }
export interface ChatPresence { type: 'presence'; userId: number; userName: string; status: PresenceStatus; lastActiveAt: string | null; roomId?: string }
export interface ChatMessageEvent { type: 'message' | 'message_edited' | 'message_deleted'; roomId: string; message: ChatMessage }
export class ChatError extends Error {
  code: string;
  roomId?: string;
  clientMsgId?: string;
  messageId?: number;
  retryAfterMs?: number;
  serverMessage?: string;
}
export interface ChatRoomState { members: Map<number, ChatMember>; typing: Map<number, string>; lastReadId: number }

export type ChatClientOptions = TokenSource & {
  baseUrl?: string;
  WebSocket?: WebSocketConstructor;
  timers?: Timers;
  now?: () => number;
  random?: () => number;
  backoff?: Omit<BackoffOptions, 'random'>;
  /** typingStart(): send `stop` after this long without keystrokes (default 3000 ms). */
  typingIdleMs?: number;
};

export class ChatClient {
  constructor(opts: ChatClientOptions);
  readonly status: 'idle' | 'connecting' | 'open' | 'reconnecting' | 'failed' | 'closed';
  readonly me: ChatReady | null;
  readonly rooms: Map<string, ChatRoomState>;
  connect(): Promise<ChatReady>;
  close(): void;
  join(roomId: string): Promise<ChatJoined>;
  leave(roomId: string): Promise<{ type: 'left'; roomId: string }>;
  history(roomId: string, opts?: { before?: number | null; limit?: number }): Promise<ChatHistory>;
  send(roomId: string, text: string, opts?: { clientMsgId?: string }): Promise<ChatAck>;
  edit(roomId: string, messageId: number, text: string): void;
  delete(roomId: string, messageId: number): void;
  markRead(roomId: string, messageId: number): Promise<ChatRead>;
  typing(roomId: string, state: 'start' | 'stop'): void;
  typingStart(roomId: string): void;
  typingStop(roomId: string): void;
  setPresence(status: 'online' | 'away'): void;
  on(type: 'ready', cb: (m: ChatReady) => void): () => void;
  on(type: 'status', cb: (s: { status: ChatClient['status']; code?: number; delay?: number; connectionId?: string }) => void): () => void;
  on(type: 'message' | 'message_edited' | 'message_deleted', cb: (m: ChatMessageEvent) => void): () => void;
  on(type: 'ack', cb: (m: ChatAck) => void): () => void;
  on(type: 'typing', cb: (m: ChatTyping) => void): () => void;
  on(type: 'presence', cb: (m: ChatPresence) => void): () => void;
  on(type: 'read', cb: (m: ChatRead) => void): () => void;
  on(type: 'joined', cb: (m: ChatJoined) => void): () => void;
  on(type: 'left', cb: (m: { type: 'left'; roomId: string }) => void): () => void;
  on(type: 'error', cb: (err: ChatError | Error) => void): () => void;
}
export function canonicalRoomId(roomId: string): string;

// ---------------------------------------------------------------- SHA-256 and REST

export class Sha256 {
  update(data: ArrayBuffer | ArrayBufferView): this;
  digest(): Uint8Array;
  hex(): string;
}
export function sha256Hex(bytes: ArrayBuffer | ArrayBufferView): string;
export function sha256Blob(blob: Blob, opts?: { chunkSize?: number; onProgress?: (hashed: number, size: number) => void; signal?: AbortSignal }): Promise<string>;

export class ApiError extends Error {
  status: number;
  code?: string;
}
export interface Api {
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  get<T = any>(path: string): Promise<T>;
  post<T = any>(path: string, body?: unknown): Promise<T>;
  patch<T = any>(path: string, body?: unknown): Promise<T>;
  del<T = any>(path: string): Promise<T>;
  login(email: string, password: string): Promise<{ token: string; tokenType: 'Bearer'; expiresIn: number; user: Record<string, unknown> }>;
}
export function createApi(opts?: { baseUrl?: string; getToken?: () => string | null | undefined | Promise<string | null | undefined>; fetch?: typeof fetch }): Api;

/** http(s)://host -> ws(s)://host. */
export function wsBase(baseUrl: string): string;
export const ROOM_ID_RE: RegExp;
