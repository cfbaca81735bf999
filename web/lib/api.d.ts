// Types: see index.d.ts.
export { createApi, ApiError } from './index.js';
