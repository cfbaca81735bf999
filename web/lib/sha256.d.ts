// Types: see index.d.ts.
export { Sha256, sha256Hex, sha256Blob } from './index.js';
