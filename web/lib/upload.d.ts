// Types: see index.d.ts.
export { DocumentUpload, UploadError, DOCUMENT_TYPES } from './index.js';
