// The documents page: pick a checked-in guest, upload a document with a progress bar, pause,
// resume (also after a reload: unfinished uploads are remembered in localStorage) and cancel,
// and the guest's documents, refreshed live from `document_uploaded` events.
import { DocumentUpload, DOCUMENT_TYPES } from '../lib/upload.js';
import { h, field, select, fmtBytes, fmtTime, clear } from './dom.js';

const SPEEDS = [['0', 'Unlimited'], ['2097152', '2 MiB/s'], ['1048576', '1 MiB/s'], ['262144', '256 KiB/s']];

export function renderUploads(main, app) {
  let current = null; // the DocumentUpload in progress
  const guests = new Map();

  const guestSel = select([['', 'Choose a guest…']], { id: 'guest', name: 'guest', required: true });
  const docType = select(DOCUMENT_TYPES.map((t) => [t, t.replace('_', ' ')]), { id: 'doc-type' });
  const docNumber = h('input', { id: 'doc-number', maxlength: 32, autocomplete: 'off', placeholder: 'optional, identity documents' });
  const file = h('input', { type: 'file', id: 'doc-file', accept: '.pdf,.jpg,.jpeg,.png,.heic,.csv,.xlsx' });
  const speed = select(SPEEDS, { id: 'speed' });
  const start = h('button', { type: 'submit' }, 'Start upload');
  const pause = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Pause');
  const resume = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Resume');
  const cancel = h('button', { type: 'button', class: 'danger', disabled: true }, 'Cancel');
  const bar = h('progress', { id: 'upload-progress', max: '100', value: '0', 'aria-label': 'Upload progress' });
  const barText = h('span', { class: 'hint', id: 'upload-percent' }, '0%');
  const status = h('p', { id: 'upload-status', role: 'status', 'aria-live': 'polite' }, 'Choose a guest and a file.');
  const pendingList = h('ul', { class: 'pending', id: 'pending-uploads', 'aria-label': 'Unfinished uploads' });
  const docsBody = h('tbody', { id: 'documents' });

  function setButtons() {
    const s = current?.state;
    start.disabled = !!current && !['completed', 'cancelled', 'failed'].includes(s);
    pause.disabled = s !== 'uploading';
    resume.disabled = s !== 'paused';
    cancel.disabled = !current || ['completed', 'cancelled', 'failed', 'idle'].includes(s);
  }

  function bind(up) {
    current = up;
    up._cb.progress = (percent, info) => {
      if (info.phase === 'hashing') {
        status.textContent = `Computing SHA-256: ${fmtBytes(info.hashed)} of ${fmtBytes(info.size)}`;
        return;
      }
      bar.value = percent;
      barText.textContent = `${percent}%`;
      if (up.state === 'uploading') status.textContent = `Uploading ${fmtBytes(info.sent)} of ${fmtBytes(info.size)} (${percent}%), ${fmtBytes(info.durableOffset)} on the server's disk`;
    };
    up._cb.status = (s) => {
      setButtons();
      if (s === 'paused') status.textContent = `Paused at ${fmtBytes(up.durableOffset)} of ${fmtBytes(up.size)} (safe on the server; you may reload the page)`;
      else if (s === 'connecting') status.textContent = up.uploadId ? 'Reconnecting to resume…' : 'Connecting…';
      else if (s === 'reconnecting') status.textContent = 'Connection lost: resuming…';
      else if (s === 'cancelled') { status.textContent = 'Cancelled: the server deleted the partial file.'; bar.value = 0; barText.textContent = '0%'; }
      if (s === 'uploading' && up.durableOffset > 0 && up.sent === up.durableOffset) status.textContent = `Resuming from ${fmtBytes(up.durableOffset)} (the server's offset)`;
      renderPending();
    };
    up._cb.complete = (doc) => {
      status.textContent = `Completed: document #${doc.id}, SHA-256 ${doc.sha256}`;
      status.dataset.sha256 = doc.sha256;
      renderPending();
      loadDocuments();
    };
    up._cb.error = (err) => { status.textContent = `Upload failed: ${err.code ? `${err.code}: ` : ''}${err.message}`; setButtons(); renderPending(); };
    setButtons();
    up.start().catch(() => { /* reported through onError */ });
  }

  const form = h('form', { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title', class: 'h3' }, 'Upload a document'),
    field('Guest', guestSel), field('Document type', docType), field('Document number', docNumber),
    field('File', file), field('Speed limit', speed),
    h('div', { class: 'actions' }, start, pause, resume, cancel),
    h('div', { class: 'progress' }, bar, barText), status);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const g = guests.get(guestSel.value);
    const f = file.files[0];
    if (!g) { status.textContent = 'Choose a guest first.'; guestSel.focus(); return; }
    if (!f) { status.textContent = 'Choose a file first.'; file.focus(); return; }
    let up;
    try {
      up = new DocumentUpload({ file: f, documentType: docType.value, guestId: g.id, propertyId: g.propertyId,
        documentNumber: docNumber.value.trim() || undefined, getToken: () => app.session.token,
        storage: localStorage, maxBytesPerSecond: Number(speed.value), chunkSize: 256 * 1024 });
    } catch (err) { status.textContent = err.message; return; }
    delete status.dataset.sha256;
    bar.value = 0;
    bind(up);
  });
  pause.addEventListener('click', () => current?.pause().catch((err) => { status.textContent = `Pause failed: ${err.message}`; }));
  resume.addEventListener('click', () => current?.resume().catch((err) => { status.textContent = `Resume failed: ${err.message}`; }));
  cancel.addEventListener('click', () => current?.cancel().catch((err) => { status.textContent = `Cancel failed: ${err.message}`; }));

  function renderPending() {
    clear(pendingList);
    const items = DocumentUpload.pending(localStorage).filter((r) => !current || r.uploadId !== current.uploadId || ['failed', 'cancelled'].includes(current.state));
    if (items.length === 0) pendingList.append(h('li', { class: 'hint' }, 'None.'));
    for (const r of items) {
      const again = h('input', { type: 'file', 'aria-label': `The file ${r.fileName} again` });
      const go = h('button', { type: 'button', class: 'secondary' }, 'Resume');
      const drop = h('button', { type: 'button', class: 'danger' }, 'Discard');
      go.addEventListener('click', () => {
        const f = again.files[0];
        if (!f) { status.textContent = `Choose ${r.fileName} again to resume it.`; again.focus(); return; }
        if (f.size !== r.size) { status.textContent = `That file has ${fmtBytes(f.size)}; the upload had ${fmtBytes(r.size)}.`; return; }
        bind(new DocumentUpload({ file: f, uploadId: r.uploadId, sha256: r.sha256, documentType: r.documentType, guestId: r.guestId,
          propertyId: r.propertyId, fileName: r.fileName, mimeType: r.mimeType, getToken: () => app.session.token, storage: localStorage, chunkSize: 256 * 1024 }));
        renderPending();
      });
      drop.addEventListener('click', async () => {
        try {
          // Cancelling by id needs no file: a stand-in Blob satisfies the constructor.
          const up = new DocumentUpload({ file: new Blob(['x']), uploadId: r.uploadId, documentType: r.documentType, guestId: r.guestId,
            propertyId: r.propertyId, getToken: () => app.session.token, storage: localStorage });
          await up.cancel();
        } catch { DocumentUpload.forget(localStorage, r.uploadId); } // gone already, or a damaged record
        renderPending();
      });
      pendingList.append(h('li', { dataset: { uploadId: r.uploadId } },
        h('span', {}, `${r.fileName} · ${fmtBytes(r.size)} · ${r.documentType} · guest ${r.guestId}`), again, go, drop));
    }
  }

  async function loadGuests() {
    try {
      const res = await app.api.get('/guests?status=checked_in&limit=100');
      const keep = guestSel.value;
      clear(guestSel).append(h('option', { value: '' }, 'Choose a guest…'));
      for (const g of res.items) {
        guests.set(String(g.id), g);
        guestSel.append(h('option', { value: String(g.id) }, `${g.name} (#${g.id}, property ${g.propertyId}${g.roomNumber ? `, room ${g.roomNumber}` : ''})`));
      }
      if (guests.has(keep)) guestSel.value = keep;
      else if (res.items.length) guestSel.value = String(res.items[0].id);
      loadDocuments();
    } catch (err) {
      status.textContent = err.status === 403 ? 'Your role may not see guests or their documents.' : `Could not load guests: ${err.message}`;
    }
  }

  let docsGen = 0; // only the newest load renders (a completion and its event both reload)
  async function loadDocuments() {
    const g = guests.get(guestSel.value);
    const gen = ++docsGen;
    if (!g) { clear(docsBody); return; }
    try {
      const res = await app.api.get(`/v2/documents?guestId=${g.id}&limit=50`);
      if (gen !== docsGen) return;
      clear(docsBody);
      if (res.items.length === 0) docsBody.append(h('tr', {}, h('td', { colspan: 6, class: 'hint' }, 'No documents yet.')));
      for (const d of res.items) {
        docsBody.append(h('tr', { dataset: { documentId: String(d.id), sha256: d.sha256 } },
          h('td', {}, `#${d.id}`), h('td', {}, d.documentType), h('td', {}, d.fileName), h('td', {}, fmtBytes(d.size)),
          h('td', {}, h('code', { title: d.sha256 }, `${d.sha256.slice(0, 12)}…`)), h('td', {}, fmtTime(d.createdAt))));
      }
    } catch (err) {
      if (gen !== docsGen) return;
      clear(docsBody).append(h('tr', {}, h('td', { colspan: 6, class: 'error' }, err.message)));
    }
  }
  guestSel.addEventListener('change', loadDocuments);

  // Quick check-in so the page works from an empty demo.
  const qName = h('input', { id: 'checkin-name', maxlength: 128, required: true, value: 'Walk-in Guest' });
  const qProp = select([], { id: 'checkin-property' });
  const qForm = h('form', { class: 'inline', 'aria-label': 'Check in a guest' }, field('New guest', qName), field('Property', qProp), h('button', { type: 'submit', class: 'secondary' }, 'Check in'));
  qForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const res = await app.api.post('/guests/checkin', { propertyId: Number(qProp.value), name: qName.value.trim() });
      await loadGuests();
      guestSel.value = String(res.guest.id);
      loadDocuments();
    } catch (err) { status.textContent = `Check-in failed: ${err.message}`; }
  });
  app.api.get('/properties').then((res) => { for (const p of res.items) qProp.append(h('option', { value: String(p.id) }, p.name)); }).catch(() => {});

  const onEvents = (events, service) => {
    if (service === 'guest' && events.some((e) => e.type.startsWith('document_') && String(e.data?.guestId) === guestSel.value)) loadDocuments();
  };
  app.feedListeners.add(onEvents);

  main.append(h('h2', {}, 'Guest documents'),
    h('div', { class: 'two-col' },
      h('div', {}, form, h('section', { class: 'card', 'aria-labelledby': 'pending-title' }, h('h2', { id: 'pending-title', class: 'h3' }, 'Unfinished uploads'),
        h('p', { class: 'hint' }, 'Paused or interrupted uploads survive a reload: choose the same file and resume from what the server already has.'), pendingList)),
      h('div', {}, h('section', { class: 'card', 'aria-labelledby': 'docs-title' }, h('h2', { id: 'docs-title', class: 'h3' }, 'Documents of this guest'), qForm,
        h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Id', 'Type', 'File', 'Size', 'SHA-256', 'Added'].map((t) => h('th', { scope: 'col' }, t)))), docsBody))))));
  loadGuests();
  renderPending();
  return () => { app.feedListeners.delete(onEvents); };
}
