// Domain endpoints publish on the stream: the seed's flow (POST /finance/revenue while a client
// listens) and one event per producer, each carrying the created record.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './support/server.mjs';
import { subscribed, closeAll } from './support/stream.mjs';

let srv;
let owner;

before(async () => {
  srv = await startServer({ args: ['--demo'] });
  owner = srv.token({ org: 1, user: 1, role: 'owner' });
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await srv?.stop();
});

async function post(path, json, token = owner, method = 'POST') {
  const res = await srv.fetch(path, { method, json, token });
  const body = await res.json();
  assert.ok(res.status === 201 || res.status === 200, `${path}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

test('POST /finance/revenue reaches a finance subscriber with the created record', async () => {
  const { c } = await subscribed(srv, owner, ['finance', 'guest', 'staff']);
  const body = await post('/finance/revenue', { propertyId: 1, amountCents: 125000, source: 'room' });
  const ev = await c.waitEvent((e) => e.type === 'revenue_created');
  assert.equal(ev.offset, body.event.offset);
  assert.equal(ev.orgId, 1);
  assert.equal(ev.propertyId, 1);
  assert.equal(ev.data.amountCents, 125000);
  assert.equal(ev.data.id, body.revenue.id);
});

test('each producer publishes on its own service', async () => {
  const { c } = await subscribed(srv, owner, ['finance', 'guest', 'tasks', 'properties', 'users']);
  const expense = await post('/finance/expense', { propertyId: 2, amountCents: 5000, category: 'laundry' });
  await c.waitEvent((e) => e.type === 'expense_created' && e.data.id === expense.expense.id);
  await post(`/finance/expense/${expense.expense.id}/approve`, {});
  const approved = await c.waitEvent((e) => e.type === 'expense_approved');
  assert.equal(approved.data.status, 'approved');

  const guest = await post('/guests/checkin', { propertyId: 1, name: 'Ana Guest', roomNumber: '101' });
  const checkin = await c.waitEvent((e) => e.type === 'guest_checked_in');
  assert.equal(checkin.data.id, guest.guest.id);

  const task = await post('/tasks', { propertyId: 1, title: 'Fix the AC in 204' });
  await c.waitEvent((e) => e.type === 'task_created' && e.data.id === task.task.id);

  await post('/properties', { name: 'Lake House', city: 'Udaipur' });
  const prop = await c.waitEvent((e) => e.type === 'property_created');
  assert.equal(prop.data.name, 'Lake House');

  await post('/users', { email: 'new.hire@demo.bellhop.dev', name: 'New Hire', role: 'staff', password: 'a-long-password' });
  const user = await c.waitEvent((e) => e.type === 'user_created');
  assert.equal(user.data.email, 'new.hire@demo.bellhop.dev');
  assert.equal(user.data.passwordHash, undefined);
  assert.equal(user.data.password_hash, undefined);
  for (const m of c.all) assert.ok(!JSON.stringify(m).includes('argon2'), 'no password hash on the stream');
});

test('a front desk user scoped to property 1 sees only property 1 check-ins', async () => {
  const desk = srv.token({ org: 1, user: 5, role: 'front_desk', properties: [1] });
  const { c } = await subscribed(srv, desk, ['guest']);
  await post('/guests/checkin', { propertyId: 2, name: 'Other Property Guest' });
  const mine = await post('/guests/checkin', { propertyId: 1, name: 'My Property Guest' });
  const ev = await c.waitEvent((e) => e.type === 'guest_checked_in');
  assert.equal(ev.data.id, mine.guest.id, 'the property 2 check-in was published first but must not arrive');
});
