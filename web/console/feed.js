// The live feed: every service this role may read, filtered by service, type text and property,
// and a panel that creates records through the domain endpoints, so their events can be watched.
import { h, field, select, fmtTime, fmtMoney, clear } from './dom.js';

const MAX_ROWS = 300;

function summary(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case 'revenue_created': return `${fmtMoney(d.amountCents, d.currency)} · ${d.source ?? ''}`;
    case 'expense_created': case 'expense_approved': case 'expense_rejected':
      return `${fmtMoney(d.amountCents, d.currency)} · ${d.category ?? ''} · ${d.status ?? ''}`;
    case 'task_created': case 'task_assigned': case 'task_status_changed': return `${d.title ?? ''} · ${d.status ?? ''}`;
    case 'guest_checked_in': case 'guest_checked_out': return `${d.name ?? ''}${d.roomNumber ? ` · room ${d.roomNumber}` : ''}`;
    case 'document_uploaded': case 'document_deleted': return `${d.documentType ?? ''} · ${d.fileName ?? ''}`;
    default: { const s = JSON.stringify(d); return s.length > 80 ? `${s.slice(0, 77)}…` : s; }
  }
}

export function renderFeed(main, app) {
  const filters = { services: new Set(app.services), text: '', propertyId: '' };
  const list = h('ol', { class: 'events', id: 'event-list', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Events, newest first' });
  const empty = h('p', { class: 'hint', id: 'feed-empty' }, 'No events yet: create something on the left, or anywhere else.');
  const count = h('span', { class: 'hint', id: 'feed-count' });

  const matches = (ev) => filters.services.has(ev.service)
    && (!filters.text || ev.type.includes(filters.text))
    && (!filters.propertyId || String(ev.propertyId) === filters.propertyId);

  function row(ev, past = false) {
    return h('li', { class: `event svc-${ev.service}${past ? ' past' : ''}`, dataset: { service: ev.service, offset: String(ev.offset), type: ev.type, propertyId: String(ev.propertyId ?? '') }, hidden: !matches(ev) },
      h('time', { datetime: ev.timestamp }, fmtTime(ev.timestamp)),
      h('span', { class: 'badge' }, ev.service),
      h('strong', {}, ev.type),
      ev.propertyId ? h('span', { class: 'hint' }, `property ${ev.propertyId}`) : null,
      h('span', { class: 'summary' }, summary(ev)),
      h('span', { class: 'hint offset' }, `#${ev.offset}`));
  }
  function refilter() {
    let shown = 0;
    for (const li of list.children) {
      const ev = { service: li.dataset.service, type: li.dataset.type, propertyId: li.dataset.propertyId };
      const ok = matches(ev);
      li.hidden = !ok;
      if (ok) shown++;
    }
    count.textContent = `${shown} shown of ${list.children.length}`;
    empty.hidden = list.children.length > 0;
  }
  function add(events) {
    for (const ev of events) list.prepend(row(ev));
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
    empty.hidden = true;
    count.textContent = `${[...list.children].filter((li) => !li.hidden).length} shown of ${list.children.length}`;
  }

  // Filters
  const svcBoxes = h('fieldset', { class: 'services' }, h('legend', {}, 'Services'),
    app.services.map((s) => {
      const cb = h('input', { type: 'checkbox', value: s, checked: true, id: `svc-${s}` });
      cb.addEventListener('change', () => { if (cb.checked) filters.services.add(s); else filters.services.delete(s); refilter(); });
      return h('label', { class: 'check', for: `svc-${s}` }, cb, ` ${s}`);
    }));
  const text = h('input', { type: 'search', placeholder: 'e.g. revenue', id: 'filter-type' });
  text.addEventListener('input', () => { filters.text = text.value.trim().toLowerCase(); refilter(); });
  const prop = select([['', 'All properties']], { id: 'filter-property' });
  prop.addEventListener('change', () => { filters.propertyId = prop.value; refilter(); });

  // Create panel
  const result = h('p', { class: 'result', id: 'create-result', role: 'status' });
  const propSelects = [];
  const propSelect = () => { const s = select([], { name: 'propertyId', required: true }); propSelects.push(s); return s; };
  function form(title, path, fields, build, label) {
    const button = h('button', { type: 'submit' }, label);
    const f = h('form', { class: 'create', 'aria-label': title }, h('h3', {}, title), fields, h('div', { class: 'actions' }, button));
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(f));
      let body;
      try { body = build(data); } catch (err) { result.textContent = err.message; result.dataset.kind = 'error'; return; }
      button.disabled = true;
      try {
        const res = await app.api.post(path, body);
        const rec = Object.values(res).find((v) => v && typeof v === 'object' && 'id' in v);
        result.textContent = `${title}: #${rec?.id} stored${res.event ? `, event ${res.event.type} at ${res.event.service} #${res.event.offset}` : ''}`;
        result.dataset.kind = 'ok';
      } catch (err) {
        result.textContent = `${title}: ${err.status === 403 ? 'your role may not do this' : err.message}`;
        result.dataset.kind = 'error';
      } finally { button.disabled = false; }
    });
    return f;
  }
  const money = (v) => {
    const n = Math.round(Number(v) * 100);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error('Amount: a positive number');
    return n;
  };
  const pid = (v) => { const n = Number(v); if (!Number.isSafeInteger(n) || n < 1) throw new Error('Choose a property'); return n; };
  const forms = [
    form('Revenue', '/finance/revenue', [field('Property', propSelect()), field('Amount (INR)', h('input', { name: 'amount', type: 'number', min: '0.01', step: '0.01', value: '1250', required: true })),
      field('Source', h('input', { name: 'source', value: 'room', maxlength: 64, required: true }))],
    (d) => ({ propertyId: pid(d.propertyId), amountCents: money(d.amount), source: d.source.trim() || 'room' }), 'Add revenue'),
    form('Expense', '/finance/expense', [field('Property', propSelect()), field('Amount (INR)', h('input', { name: 'amount', type: 'number', min: '0.01', step: '0.01', value: '300', required: true })),
      field('Category', h('input', { name: 'category', value: 'supplies', maxlength: 64, required: true }))],
    (d) => ({ propertyId: pid(d.propertyId), amountCents: money(d.amount), category: d.category.trim() || 'supplies' }), 'Add expense'),
    form('Task', '/tasks', [field('Property', propSelect()), field('Title', h('input', { name: 'title', value: 'Fix the AC in 204', maxlength: 200, required: true })),
      field('Priority', select([['normal', 'normal'], ['low', 'low'], ['high', 'high'], ['urgent', 'urgent']], { name: 'priority' }))],
    (d) => ({ propertyId: pid(d.propertyId), title: d.title.trim(), priority: d.priority }), 'Create task'),
    form('Check-in', '/guests/checkin', [field('Property', propSelect()), field('Guest name', h('input', { name: 'name', value: 'Anil Kumar', maxlength: 128, required: true })),
      field('Room', h('input', { name: 'roomNumber', value: '101', maxlength: 16 }))],
    (d) => ({ propertyId: pid(d.propertyId), name: d.name.trim(), ...(d.roomNumber.trim() ? { roomNumber: d.roomNumber.trim() } : {}) }), 'Check in'),
  ];

  // A burst of traffic for the demo (and the operator page's charts): N revenues, one every
  // 200 ms, over the same endpoint as the form.
  const burstN = 20;
  const burst = h('button', { type: 'button', class: 'secondary', id: 'burst' }, `Generate traffic (${burstN} revenues)`);
  burst.addEventListener('click', async () => {
    const propertyId = Number(propSelects[0]?.value);
    if (!(propertyId > 0)) { result.textContent = 'Choose a property'; return; }
    burst.disabled = true;
    let ok = 0;
    try {
      for (let i = 0; i < burstN; i++) {
        await app.api.post('/finance/revenue', { propertyId, amountCents: 100 * (1 + Math.floor(Math.random() * 5000)), source: 'demo-traffic' });
        ok++;
        result.textContent = `Traffic: ${ok} of ${burstN} revenues`;
        result.dataset.kind = 'ok';
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      result.textContent = `Traffic stopped after ${ok}: ${err.message}`;
      result.dataset.kind = 'error';
    } finally { burst.disabled = false; }
  });

  app.api.get('/properties').then((res) => {
    for (const p of res.items) {
      for (const s of propSelects) s.append(h('option', { value: String(p.id) }, p.name));
      prop.append(h('option', { value: String(p.id) }, p.name));
    }
  }).catch((err) => { result.textContent = `Could not load properties: ${err.message}`; });

  const transports = h('p', { class: 'hint', id: 'transports' });
  const showTransports = () => {
    const t = app.rt?.transports || {};
    const polled = Object.entries(t).filter(([, v]) => v === 'polling').map(([k]) => k);
    transports.textContent = app.rt ? `Transport: ${polled.length ? `long-polling for ${polled.join(', ')}, ` : ''}WebSocket for the rest · reconnects: ${app.rt.reconnects}` : 'No services for this role.';
  };
  const offStatus = app.rt ? app.rt.on('status', showTransports) : () => {};
  showTransports();

  main.append(
    h('h2', {}, 'Live feed'),
    h('div', { class: 'feed-layout' },
      h('section', { class: 'card', 'aria-labelledby': 'create-title' }, h('h2', { id: 'create-title', class: 'h3' }, 'Create'), h('div', { class: 'create-grid' }, forms), h('div', { class: 'actions' }, burst), result),
      h('section', { class: 'card', 'aria-labelledby': 'events-title' },
        h('div', { class: 'row' }, h('h2', { id: 'events-title', class: 'h3' }, 'Events'), count),
        h('div', { class: 'filters' }, svcBoxes, field('Type contains', text), field('Property', prop)),
        transports, empty, list)));

  // Earlier events (app.js backfill) go below the live ones, once each.
  function addHistory(events) {
    for (const ev of events) {
      if (list.querySelector(`li[data-service="${ev.service}"][data-offset="${ev.offset}"]`)) continue;
      if (list.children.length >= MAX_ROWS) break;
      list.append(row(ev, true));
    }
    refilter();
  }
  add([...app.feed]);
  if (app.history.length) addHistory(app.history);
  empty.hidden = list.children.length > 0;
  const onEvents = (events) => add(events);
  app.feedListeners.add(onEvents);
  app.historyListeners.add(addHistory);
  // A reset means events were lost beyond the history window: say so where they would have been.
  const onReset = (e) => {
    const d = e.detail;
    list.prepend(h('li', { class: 'event notice', role: 'note', dataset: { service: d.service, type: 'reset', offset: '' } },
      h('span', { class: 'badge' }, d.service), h('strong', {}, 'history reset'),
      h('span', { class: 'summary' }, `${d.reason}: events before #${d.offset} are not shown; reload the ${d.service} data`)));
  };
  for (const s of app.services) window.addEventListener(`${s}-stream-reset`, onReset);
  return () => {
    app.feedListeners.delete(onEvents);
    app.historyListeners.delete(addHistory);
    for (const s of app.services) window.removeEventListener(`${s}-stream-reset`, onReset);
    offStatus();
    clear(list);
  };
}
