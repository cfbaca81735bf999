// The domain endpoints (finance, guests, tasks, properties, users) from the outside, against a
// --demo server: organisation 1 with properties 1..3 and the demo users
//   1 owner (all), 2 admin (all), 3 manager [1,2], 4 finance (all), 5 front_desk [1],
//   6 housekeeping [1], 7 staff [2].
// Organisation 2 has no rows at all: its tokens stand for "another organisation".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';

let srv;
const T = {};

before(async () => {
  srv = await startServer({ args: ['--demo'] });
  T.owner = srv.token({ org: 1, user: 1, role: 'owner' });
  T.admin = srv.token({ org: 1, user: 2, role: 'admin' });
  T.manager = srv.token({ org: 1, user: 3, role: 'manager', properties: [1, 2] });
  T.finance = srv.token({ org: 1, user: 4, role: 'finance' });
  T.frontdesk = srv.token({ org: 1, user: 5, role: 'front_desk', properties: [1] });
  T.housekeeping = srv.token({ org: 1, user: 6, role: 'housekeeping', properties: [1] });
  T.staff = srv.token({ org: 1, user: 7, role: 'staff', properties: [2] });
  T.service = srv.token({ org: 1, user: 900, role: 'service' });
  T.scopedAdmin = srv.token({ org: 1, user: 2, role: 'admin', properties: [1] });
  T.other = srv.token({ org: 2, user: 1, role: 'owner' });
});
after(async () => { await srv.stop(); });

async function call(method, path, token, json) {
  const opts = { method, token };
  if (json !== undefined) opts.json = json;
  const res = await srv.fetch(path, opts);
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  return { status: res.status, body };
}
const post = (path, token, json = {}) => call('POST', path, token, json);
const patch = (path, token, json = {}) => call('PATCH', path, token, json);
const get = (path, token) => call('GET', path, token);

function expectError(r, status, code, messageRe) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body?.error?.code, code, JSON.stringify(r.body));
  assert.ok(r.body.error.message.length > 0);
  if (messageRe) assert.match(r.body.error.message, messageRe);
}
/** 400 invalid_field whose message starts with the field's name. */
const expectInvalid = (r, field) => expectError(r, 400, 'invalid_field', new RegExp(`^${field}\\b`));

function expectEvent(r, status, service, type) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.event?.service, service, JSON.stringify(r.body));
  assert.equal(r.body.event.type, type);
  assert.ok(Number.isInteger(r.body.event.offset) && r.body.event.offset > 0);
  return r.body.event.offset;
}

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const revenue = (token, extra = {}) =>
  post('/finance/revenue', token, { propertyId: 1, amountCents: 12500, source: 'room', ...extra });
const expense = (token, extra = {}) =>
  post('/finance/expense', token, { propertyId: 1, amountCents: 900, category: 'supplies', ...extra });
const checkin = (token, extra = {}) => post('/guests/checkin', token, { propertyId: 1, name: 'Asha Guest', ...extra });
const task = (token, extra = {}) => post('/tasks', token, { propertyId: 1, title: 'Fix the lamp', ...extra });

// ---------------------------------------------------------------- finance

test('revenue: created with defaults, answered with the record and its event', async () => {
  const before = Date.now();
  const r = await revenue(T.finance, { description: 'Room 101, two nights', unknownField: 'ignored' });
  expectEvent(r, 201, 'finance', 'revenue_created');
  const v = r.body.revenue;
  assert.equal(typeof v.id, 'number');
  assert.equal(v.orgId, 1);
  assert.equal(v.propertyId, 1);
  assert.equal(v.amountCents, 12500);
  assert.equal(v.currency, 'INR');
  assert.equal(v.source, 'room');
  assert.equal(v.description, 'Room 101, two nights');
  assert.equal(v.createdBy, 4);
  assert.match(v.createdAt, ISO_MS);
  assert.ok(Date.parse(v.createdAt) >= before - 1000);
  assert.equal(v.occurredAt, v.createdAt, 'occurredAt defaults to now');
  assert.ok(!('unknownField' in v));

  const r2 = await revenue(T.owner, { currency: 'USD', occurredAt: '2026-11-20T10:00:00+05:30', source: 'restaurant' });
  assert.equal(r2.status, 201);
  assert.equal(r2.body.revenue.currency, 'USD');
  assert.equal(r2.body.revenue.occurredAt, '2026-11-20T04:30:00.000Z');
  const r3 = await revenue(T.owner, { occurredAt: '2026-02-28' });
  assert.equal(r3.body.revenue.occurredAt, '2026-02-28T00:00:00.000Z');
});

test('event offsets increase by one per (organisation, service), independently per service', async () => {
  const a = expectEvent(await revenue(T.owner), 201, 'finance', 'revenue_created');
  const b = expectEvent(await expense(T.owner), 201, 'finance', 'expense_created');
  const g1 = expectEvent(await checkin(T.owner), 201, 'guest', 'guest_checked_in');
  const g2 = expectEvent(await checkin(T.owner), 201, 'guest', 'guest_checked_in');
  const c = expectEvent(await revenue(T.owner), 201, 'finance', 'revenue_created');
  assert.equal(b, a + 1);
  assert.equal(g2, g1 + 1);
  assert.equal(c, b + 1, 'guest events do not advance the finance stream');
});

test('expense: pending, then approved once; a second decision is 409 invalid_state', async () => {
  const r = await expense(T.manager, { propertyId: 2, currency: 'EUR', description: 'Linen\nand towels' });
  expectEvent(r, 201, 'finance', 'expense_created');
  const e = r.body.expense;
  assert.equal(e.status, 'pending');
  assert.equal(e.category, 'supplies');
  assert.equal(e.currency, 'EUR');
  assert.equal(e.description, 'Linen\nand towels');
  assert.equal(e.decidedBy, null);
  assert.equal(e.decidedAt, null);
  assert.equal(e.createdBy, 3);

  const ok = await post(`/finance/expense/${e.id}/approve`, T.finance, { note: 'within budget' });
  expectEvent(ok, 200, 'finance', 'expense_approved');
  assert.equal(ok.body.expense.status, 'approved');
  assert.equal(ok.body.expense.note, 'within budget');
  assert.equal(ok.body.expense.decidedBy, 4);
  assert.match(ok.body.expense.decidedAt, ISO_MS);

  expectError(await post(`/finance/expense/${e.id}/reject`, T.finance), 409, 'invalid_state', /approved/);
  expectError(await post(`/finance/expense/${e.id}/approve`, T.owner), 409, 'invalid_state');

  // Reject without any body at all (no content type either).
  const e2 = (await expense(T.owner)).body.expense;
  const res = await srv.fetch(`/finance/expense/${e2.id}/reject`, { method: 'POST', token: T.owner });
  assert.equal(res.status, 200);
  const rej = await res.json();
  assert.equal(rej.expense.status, 'rejected');
  assert.equal(rej.event.type, 'expense_rejected');
  assert.equal(rej.expense.note, null);
});

test('finance lists: org and property scope, status filter, paging', async () => {
  await revenue(T.owner, { propertyId: 3, source: 'spa' });
  await expense(T.owner, { propertyId: 3 });

  const all = await get('/finance/revenues', T.owner);
  assert.equal(all.status, 200);
  assert.ok(all.body.items.some((x) => x.propertyId === 3));
  const ids = all.body.items.map((x) => x.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');

  // The manager (properties 1 and 2) never sees property 3.
  const mine = await get('/finance/revenues', T.manager);
  assert.ok(mine.body.items.length > 0);
  assert.ok(mine.body.items.every((x) => x.propertyId === 1 || x.propertyId === 2));
  const only2 = await get('/finance/expenses?propertyId=2', T.manager);
  assert.ok(only2.body.items.length > 0 && only2.body.items.every((x) => x.propertyId === 2));
  expectError(await get('/finance/expenses?propertyId=3', T.manager), 403, 'property_forbidden');

  const pending = await get('/finance/expenses?status=pending', T.owner);
  assert.ok(pending.body.items.length > 0 && pending.body.items.every((x) => x.status === 'pending'));

  const p1 = await get('/finance/revenues?limit=2', T.owner);
  assert.equal(p1.body.items.length, 2);
  assert.equal(p1.body.nextBefore, p1.body.items[1].id);
  const p2 = await get(`/finance/revenues?limit=2&before=${p1.body.nextBefore}`, T.owner);
  assert.ok(p2.body.items.every((x) => x.id < p1.body.nextBefore));
  const last = await get(`/finance/revenues?limit=200&before=${p1.body.nextBefore}`, T.owner);
  assert.equal(last.body.nextBefore, null);

  // Another organisation sees none of it.
  const other = await get('/finance/revenues', T.other);
  assert.equal(other.status, 200);
  assert.deepEqual(other.body.items, []);
});

// ---------------------------------------------------------------- validation

test('validation: one failure per rule class, each 400 invalid_field naming the field', async () => {
  expectInvalid(await revenue(T.owner, { propertyId: undefined }), 'propertyId'); // missing
  expectInvalid(await revenue(T.owner, { propertyId: -1 }), 'propertyId'); // not an id
  expectInvalid(await revenue(T.owner, { amountCents: '100' }), 'amountCents'); // type
  expectInvalid(await revenue(T.owner, { amountCents: 1.5 }), 'amountCents'); // not an integer
  expectInvalid(await revenue(T.owner, { amountCents: 0 }), 'amountCents'); // range
  expectInvalid(await revenue(T.owner, { currency: 'inr' }), 'currency'); // format
  expectInvalid(await revenue(T.owner, { source: '' }), 'source'); // too short
  expectInvalid(await revenue(T.owner, { source: 'x'.repeat(65) }), 'source'); // too long
  expectInvalid(await revenue(T.owner, { source: '   ' }), 'source'); // blank
  // NUL inside a string: jansson refuses it while parsing, before any field check.
  expectError(await revenue(T.owner, { source: 'a\u0000b' }), 400, 'invalid_json');
  expectInvalid(await revenue(T.owner, { source: 'a\u0007b' }), 'source'); // control character
  expectInvalid(await revenue(T.owner, { occurredAt: 'yesterday' }), 'occurredAt'); // time
  expectInvalid(await revenue(T.owner, { occurredAt: '2026-11-20T10:00:00' }), 'occurredAt'); // no zone
  expectInvalid(await revenue(T.owner, { occurredAt: '2026-02-30' }), 'occurredAt'); // no such day
  expectInvalid(await expense(T.owner, { category: null }), 'category'); // null = missing
  expectInvalid(await checkin(T.owner, { email: 'not-an-email' }), 'email');
  expectInvalid(await checkin(T.owner, { phone: 'call me' }), 'phone');
  expectInvalid(await checkin(T.owner, { nights: 366 }), 'nights');
  expectInvalid(await checkin(T.owner, { name: 'n'.repeat(129) }), 'name');
  expectInvalid(await task(T.owner, { priority: 'whenever' }), 'priority'); // enum
  expectInvalid(await post('/users', T.owner, { email: 'v1@x.com', name: 'V', role: 'staff', password: 'short' }), 'password');
  expectInvalid(await post('/users', T.owner, { email: 'v2@x.com', name: 'V', role: 'emperor', password: 'longenough' }), 'role');
  expectInvalid(await post('/users', T.owner, { email: 'v3@x.com', name: 'V', role: 'staff', password: 'longenough', propertyIds: [1, 1] }), 'propertyIds');
  expectInvalid(await patch('/properties/1', T.owner, {}), 'body'); // nothing to update
  expectInvalid(await patch('/properties/1', T.owner, { timezone: 'Asia/Kolkata; DROP' }), 'timezone');
  expectInvalid(await get('/guests?limit=0', T.owner), 'limit');
  expectInvalid(await get('/guests?limit=201', T.owner), 'limit');
  expectInvalid(await get('/guests?status=asleep', T.owner), 'status');
  expectInvalid(await get('/tasks?assigneeId=x', T.owner), 'assigneeId');

  // Multibyte characters count as characters: 64 of them is a valid source.
  assert.equal((await revenue(T.owner, { source: 'é'.repeat(64) })).status, 201);

  // Malformed JSON and a missing content type are the HTTP layer's errors.
  const bad = await srv.fetch('/finance/revenue', {
    method: 'POST', token: T.owner, headers: { 'content-type': 'application/json' }, body: '{"propertyId":',
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, 'invalid_json');
  const noType = await srv.fetch('/tasks', { method: 'POST', token: T.owner, body: '{}' });
  assert.equal(noType.status, 415);
});

test('authentication comes first: 401 without a token', async () => {
  expectError(await revenue(undefined), 401, 'unauthorized');
  expectError(await get('/guests', undefined), 401, 'unauthorized');
});

// ---------------------------------------------------------------- roles and properties

test('roles: each endpoint refuses the roles it does not serve with 403 forbidden', async () => {
  expectError(await revenue(T.housekeeping), 403, 'forbidden');
  expectError(await expense(T.staff, { propertyId: 2 }), 403, 'forbidden');
  expectError(await get('/finance/revenues', T.frontdesk), 403, 'forbidden');
  const e = (await expense(T.owner)).body.expense;
  expectError(await post(`/finance/expense/${e.id}/approve`, T.frontdesk), 403, 'forbidden');
  expectError(await checkin(T.staff), 403, 'forbidden');
  expectError(await get('/guests', T.housekeeping), 403, 'forbidden');
  const t = (await task(T.owner)).body.task;
  expectError(await post(`/tasks/${t.id}/assign`, T.housekeeping, { assigneeId: 6 }), 403, 'forbidden');
  expectError(await post('/properties', T.manager, { name: 'Nope' }), 403, 'forbidden');
  expectError(await patch('/properties/1', T.finance, { name: 'Nope' }), 403, 'forbidden');
  expectError(await post('/users', T.manager, { email: 'm@x.com', name: 'M', role: 'staff', password: 'longenough' }), 403, 'forbidden');
  expectError(await get('/users', T.staff), 403, 'forbidden');
  // Only an owner hands out owner or admin.
  expectError(await post('/users', T.admin, { email: 'a@x.com', name: 'A', role: 'admin', password: 'longenough' }), 403, 'forbidden');
  expectError(await patch('/users/3', T.admin, { role: 'owner' }), 403, 'forbidden');
  expectError(await patch('/users/1', T.admin, { name: 'Not the owner' }), 403, 'forbidden');
  expectError(await patch('/users/1', T.owner, { role: 'staff' }), 403, 'forbidden', /own role/);
});

test('the service role may call every create endpoint, like admin but never as owner', async () => {
  expectEvent(await revenue(T.service), 201, 'finance', 'revenue_created');
  expectEvent(await expense(T.service), 201, 'finance', 'expense_created');
  expectEvent(await checkin(T.service), 201, 'guest', 'guest_checked_in');
  const t = await task(T.service);
  expectEvent(t, 201, 'tasks', 'task_created');
  assert.equal(t.body.task.createdBy, 900);
  expectEvent(await post('/properties', T.service, { name: 'Machine Inn' }), 201, 'properties', 'property_created');
  expectEvent(await post('/users', T.service, { email: 'bot-made@x.com', name: 'B', role: 'staff', password: 'longenough' }), 201, 'users', 'user_created');
  expectError(await post('/users', T.service, { email: 'bot-admin@x.com', name: 'B', role: 'admin', password: 'longenough' }), 403, 'forbidden');
});

test('property scope: 403 property_forbidden outside the caller\'s properties', async () => {
  expectError(await revenue(T.manager, { propertyId: 3 }), 403, 'property_forbidden');
  expectError(await checkin(T.frontdesk, { propertyId: 2 }), 403, 'property_forbidden');
  expectError(await task(T.staff, { propertyId: 1 }), 403, 'property_forbidden');
  expectError(await get('/guests?propertyId=2', T.frontdesk), 403, 'property_forbidden');
  // Checked against the stored record for ids.
  const g = (await checkin(T.owner, { propertyId: 2 })).body.guest;
  expectError(await get(`/guests/${g.id}`, T.frontdesk), 403, 'property_forbidden');
  expectError(await post(`/guests/${g.id}/checkout`, T.frontdesk), 403, 'property_forbidden');
  const e = (await expense(T.owner, { propertyId: 3 })).body.expense;
  expectError(await post(`/finance/expense/${e.id}/approve`, T.manager), 403, 'property_forbidden');
  const t = (await task(T.owner, { propertyId: 1 })).body.task;
  expectError(await post(`/tasks/${t.id}/status`, T.staff, { status: 'done' }), 403, 'property_forbidden');
  expectError(await patch('/properties/2', T.scopedAdmin, { name: 'Mine' }), 403, 'property_forbidden');
  // A scoped caller cannot grant more than it reaches.
  expectError(await post('/users', T.scopedAdmin, { email: 's1@x.com', name: 'S', role: 'staff', password: 'longenough' }), 403, 'property_forbidden');
  expectError(await post('/users', T.scopedAdmin, { email: 's2@x.com', name: 'S', role: 'staff', password: 'longenough', propertyIds: [2] }), 403, 'property_forbidden');
  const s3 = await post('/users', T.scopedAdmin, { email: 's3@x.com', name: 'S', role: 'staff', password: 'longenough', propertyIds: [1] });
  assert.equal(s3.status, 201);
  // ...and manages only users who stay within its properties.
  assert.equal((await patch(`/users/${s3.body.user.id}`, T.scopedAdmin, { name: 'S3' })).status, 200);
  expectError(await patch('/users/3', T.scopedAdmin, { name: 'Meera' }), 403, 'property_forbidden');
  expectError(await patch('/users/4', T.scopedAdmin, { name: 'Farhan' }), 403, 'property_forbidden');
});

test('ids of another organisation behave as not found (404)', async () => {
  const g = (await checkin(T.owner)).body.guest;
  const e = (await expense(T.owner)).body.expense;
  const t = (await task(T.owner)).body.task;
  expectError(await get(`/guests/${g.id}`, T.other), 404, 'not_found');
  expectError(await post(`/guests/${g.id}/checkout`, T.other), 404, 'not_found');
  expectError(await post(`/finance/expense/${e.id}/approve`, T.other), 404, 'not_found');
  expectError(await get(`/tasks/${t.id}`, T.other), 404, 'not_found');
  expectError(await post(`/tasks/${t.id}/assign`, T.other, { assigneeId: 1 }), 404, 'not_found');
  expectError(await patch(`/tasks/${t.id}`, T.other, { status: 'done' }), 404, 'not_found');
  expectError(await patch('/properties/1', T.other, { name: 'Stolen' }), 404, 'not_found');
  expectError(await patch('/users/3', T.other, { name: 'Stolen' }), 404, 'not_found');
  // A property of organisation 1 named in a create is not found either.
  expectError(await revenue(T.other, { propertyId: 1 }), 404, 'not_found');
  expectError(await checkin(T.other, { propertyId: 1 }), 404, 'not_found');
  // Lists are empty, and malformed or unknown ids are simply not found.
  assert.deepEqual((await get('/guests', T.other)).body.items, []);
  assert.deepEqual((await get('/tasks', T.other)).body.items, []);
  assert.deepEqual((await get('/users', T.other)).body.items, []);
  assert.deepEqual((await get('/properties', T.other)).body.items, []);
  expectError(await get('/guests/abc', T.owner), 404, 'not_found');
  expectError(await get('/guests/999999', T.owner), 404, 'not_found');
  // The record is untouched.
  assert.equal((await get(`/guests/${g.id}`, T.owner)).body.guest.status, 'checked_in');
  assert.equal((await get('/properties', T.owner)).body.items[0].name !== 'Stolen', true);
});

// ---------------------------------------------------------------- guests

test('guests: check in, read, check out once (409 after), list filters', async () => {
  const r = await checkin(T.frontdesk, {
    name: 'Anaïs Dupont', email: 'anais@example.com', phone: '+91 98765 43210', roomNumber: '101', nights: 3,
  });
  expectEvent(r, 201, 'guest', 'guest_checked_in');
  const g = r.body.guest;
  assert.equal(g.status, 'checked_in');
  assert.equal(g.name, 'Anaïs Dupont');
  assert.equal(g.email, 'anais@example.com');
  assert.equal(g.phone, '+91 98765 43210');
  assert.equal(g.roomNumber, '101');
  assert.equal(g.nights, 3);
  assert.equal(g.createdBy, 5);
  assert.match(g.checkedInAt, ISO_MS);
  assert.equal(g.checkedOutAt, null);

  const read = await get(`/guests/${g.id}`, T.frontdesk);
  assert.equal(read.status, 200);
  assert.deepEqual(read.body.guest, g);

  const out = await post(`/guests/${g.id}/checkout`, T.frontdesk);
  expectEvent(out, 200, 'guest', 'guest_checked_out');
  assert.equal(out.body.guest.status, 'checked_out');
  assert.match(out.body.guest.checkedOutAt, ISO_MS);
  expectError(await post(`/guests/${g.id}/checkout`, T.frontdesk), 409, 'invalid_state', /checked_out/);

  await checkin(T.owner, { propertyId: 2, name: 'Elsewhere' });
  const fd = await get('/guests', T.frontdesk);
  assert.ok(fd.body.items.length > 0 && fd.body.items.every((x) => x.propertyId === 1));
  const out1 = await get('/guests?status=checked_out', T.owner);
  assert.ok(out1.body.items.some((x) => x.id === g.id));
  assert.ok(out1.body.items.every((x) => x.status === 'checked_out'));
  const at2 = await get('/guests?propertyId=2&status=checked_in', T.owner);
  assert.ok(at2.body.items.length > 0 && at2.body.items.every((x) => x.propertyId === 2 && x.status === 'checked_in'));
});

// ---------------------------------------------------------------- tasks

test('tasks: create with defaults, assign (same-org users only), unassign, status changes', async () => {
  const r = await task(T.staff, { propertyId: 2, description: 'Lamp in 204', dueAt: '2026-12-01T09:00:00Z' });
  expectEvent(r, 201, 'tasks', 'task_created');
  const t = r.body.task;
  assert.equal(t.status, 'open');
  assert.equal(t.priority, 'normal');
  assert.equal(t.assigneeId, null);
  assert.equal(t.dueAt, '2026-12-01T09:00:00.000Z');
  assert.equal(t.createdBy, 7);

  const a = await post(`/tasks/${t.id}/assign`, T.manager, { assigneeId: 7 });
  expectEvent(a, 200, 'tasks', 'task_assigned');
  assert.equal(a.body.task.assigneeId, 7);
  expectInvalid(await post(`/tasks/${t.id}/assign`, T.manager, { assigneeId: 999999 }), 'assigneeId');
  expectInvalid(await post(`/tasks/${t.id}/assign`, T.manager, {}), 'assigneeId');
  expectInvalid(await task(T.owner, { assigneeId: 999999 }), 'assigneeId');

  const mine = await get('/tasks?assigneeId=7', T.staff);
  assert.ok(mine.body.items.some((x) => x.id === t.id));
  assert.ok(mine.body.items.every((x) => x.assigneeId === 7));

  const s1 = await patch(`/tasks/${t.id}`, T.staff, { status: 'in_progress' });
  expectEvent(s1, 200, 'tasks', 'task_status_changed');
  assert.equal(s1.body.task.status, 'in_progress');
  const s2 = await post(`/tasks/${t.id}/status`, T.staff, { status: 'done' });
  assert.equal(s2.body.task.status, 'done');
  assert.equal(s2.body.event.offset, s1.body.event.offset + 1);
  expectInvalid(await patch(`/tasks/${t.id}`, T.staff, { status: 'paused' }), 'status');

  const un = await post(`/tasks/${t.id}/assign`, T.owner, { assigneeId: null });
  assert.equal(un.status, 200);
  assert.equal(un.body.task.assigneeId, null);

  const done = await get('/tasks?status=done&propertyId=2', T.manager);
  assert.ok(done.body.items.some((x) => x.id === t.id));
  assert.deepEqual((await get(`/tasks/${t.id}`, T.staff)).body.task, un.body.task);

  const urgent = await task(T.owner, { priority: 'urgent', assigneeId: 3 });
  assert.equal(urgent.body.task.priority, 'urgent');
  assert.equal(urgent.body.task.assigneeId, 3);
});

// ---------------------------------------------------------------- properties

test('properties: create, partial update, list filtered to the caller', async () => {
  const r = await post('/properties', T.admin, { name: 'Lake House', city: 'Udaipur', timezone: 'Asia/Kolkata' });
  expectEvent(r, 201, 'properties', 'property_created');
  const p = r.body.property;
  assert.equal(p.orgId, 1);
  assert.equal(p.name, 'Lake House');
  assert.equal(p.city, 'Udaipur');
  assert.equal(p.address, null);
  assert.match(p.createdAt, ISO_MS);

  const u = await patch(`/properties/${p.id}`, T.owner, { country: 'IN', address: '1 Lake Rd' });
  const off = expectEvent(u, 200, 'properties', 'property_updated');
  assert.equal(off, r.body.event.offset + 1);
  assert.equal(u.body.property.name, 'Lake House');
  assert.equal(u.body.property.country, 'IN');
  assert.equal(u.body.property.address, '1 Lake Rd');
  assert.ok(Date.parse(u.body.property.updatedAt) >= Date.parse(p.updatedAt));
  expectInvalid(await patch(`/properties/${p.id}`, T.owner, { name: '' }), 'name');
  expectError(await patch('/properties/999999', T.owner, { name: 'Ghost' }), 404, 'not_found');

  const all = await get('/properties', T.owner);
  assert.ok(all.body.items.some((x) => x.id === p.id && x.country === 'IN'));
  const mgr = await get('/properties', T.manager);
  assert.deepEqual(mgr.body.items.map((x) => x.id), [1, 2]);
  const hk = await get('/properties', T.housekeeping);
  assert.deepEqual(hk.body.items.map((x) => x.id), [1]);
});

// ---------------------------------------------------------------- users

test('users: create (hash never leaves), log in with it, update, list', async () => {
  const r = await post('/users', T.owner, {
    email: 'New.Person@Example.com', name: 'New Person', role: 'front_desk', password: 'correct horse', propertyIds: [2, 1],
  });
  const off = expectEvent(r, 201, 'users', 'user_created');
  const u = r.body.user;
  assert.deepEqual(Object.keys(u).sort(), ['createdAt', 'email', 'id', 'name', 'orgId', 'propertyIds', 'role', 'updatedAt']);
  assert.equal(u.email, 'new.person@example.com');
  assert.deepEqual(u.propertyIds, [1, 2]);
  assert.ok(!JSON.stringify(r.body).includes('argon2'), 'no hash in the answer');

  const login = await post('/auth/login', undefined, { email: 'new.person@example.com', password: 'correct horse' });
  assert.equal(login.status, 200);
  assert.equal(login.body.user.id, u.id);

  expectError(await post('/users', T.owner, { email: 'new.person@example.com', name: 'Again', role: 'staff', password: 'longenough' }), 409, 'already_exists');
  expectInvalid(await post('/users', T.owner, { email: 'p@x.com', name: 'P', role: 'staff', password: 'longenough', propertyIds: [999999] }), 'propertyIds');

  const up = await patch(`/users/${u.id}`, T.admin, { role: 'manager', propertyIds: [3] });
  assert.equal(expectEvent(up, 200, 'users', 'user_updated'), off + 1);
  assert.equal(up.body.user.role, 'manager');
  assert.equal(up.body.user.name, 'New Person');
  assert.deepEqual(up.body.user.propertyIds, [3]);
  const all = await patch(`/users/${u.id}`, T.owner, { propertyIds: null, name: 'Renamed' });
  assert.equal(all.body.user.propertyIds, null);
  assert.equal(all.body.user.name, 'Renamed');

  const managers = await get('/users?role=manager', T.owner);
  assert.ok(managers.body.items.some((x) => x.id === u.id));
  assert.ok(managers.body.items.every((x) => x.role === 'manager'));
  // The manager (properties 1, 2) sees the users who reach those properties; staff of only
  // property 2 yes, but none whose access is limited to property 3.
  const seen = await get('/users', T.manager);
  assert.ok(seen.body.items.some((x) => x.id === 7));
  assert.ok(seen.body.items.every((x) => x.propertyIds === null || x.propertyIds.some((p) => p === 1 || p === 2)));
  const page = await get('/users?limit=2', T.owner);
  assert.equal(page.body.items.length, 2);
  assert.equal(page.body.nextBefore, page.body.items[1].id);
});
