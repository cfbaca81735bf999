// Types: see index.d.ts.
export { RealtimeClient, SERVICES, FATAL_CLOSE_CODES, wsBase } from './index.js';
