// Types: see index.d.ts.
export { createBackoff } from './index.js';
