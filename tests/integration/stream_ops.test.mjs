// The realtime stream from the outside: the real `wscat` CLI, the metrics endpoints, and
// validation of POST /v2/realtime/publish.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, waitFor } from './support/server.mjs';
import { subscribed, closeAll, publisher, metrics, streamUrl } from './support/stream.mjs';

const WSCAT = join(dirname(fileURLToPath(import.meta.url)), 'node_modules/.bin/wscat');
let srv;
let pub;

before(async () => {
  srv = await startServer({ args: ['--demo'] });
  pub = publisher(srv);
});
afterEach(closeAll);
after(async () => {
  await closeAll();
  await srv?.stop();
});

/** Runs wscat with stdin kept open (it exits at once on EOF); resolves on exit, or kills it after limitMs. */
function wscat(args, limitMs = 10000) {
  const p = spawn(WSCAT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const r = { out: '', err: '', exit: null };
  p.stdout.setEncoding('utf8');
  p.stderr.setEncoding('utf8');
  p.stdout.on('data', (d) => { r.out += d; });
  p.stderr.on('data', (d) => { r.err += d; });
  r.done = new Promise((res) => {
    const t = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('exit', (code, signal) => { clearTimeout(t); r.exit = { code, signal }; res(r.exit); });
  });
  r.proc = p;
  return r;
}

test('the seed manual test with the real wscat: ack, then a published event', async () => {
  const token = srv.token({ org: 1, user: 1, role: 'owner' });
  const w = wscat(['-c', streamUrl(srv), '-H', `Authorization: Bearer ${token}`,
    '-x', '{"services":["finance","guest","staff"],"version":1}', '-w', '2']);
  try {
    await waitFor(() => /"type":"ack"/.test(w.out) || w.exit, { timeout: 8000, what: 'the ack on wscat stdout' });
    assert.match(w.out, /"type":"ack"/, `wscat printed no ack: out=${w.out} err=${w.err}`);
    const p = await pub({ service: 'guest', type: 'guest_checked_in', propertyId: 3, data: { guest: 'wscat' } });
    await waitFor(() => /"type":"events"/.test(w.out) || w.exit, { timeout: 8000, what: 'the event on wscat stdout' });
    const exit = await w.done;
    assert.deepEqual(exit, { code: 0, signal: null }, `wscat exit, stderr: ${w.err}`);
    const lines = w.out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    assert.equal(lines.length, 2, w.out);
    const [ack, ev] = lines;
    assert.equal(ack.type, 'ack');
    assert.equal(ack.seq, 0);
    assert.deepEqual(ack.services, ['finance', 'guest', 'staff']);
    assert.equal(ev.type, 'events');
    assert.equal(ev.seq, 1);
    assert.equal(ev.service, 'guest');
    assert.equal(ev.events.length, 1);
    assert.equal(ev.events[0].offset, p.offset);
    assert.equal(ev.events[0].offset, ack.positions.guest.offset + 1);
    assert.deepEqual(ev.events[0].data, { guest: 'wscat' });
  } finally {
    if (!w.exit) w.proc.kill('SIGKILL');
  }
});

test('wscat without a token is refused with 401', async () => {
  const w = wscat(['-c', streamUrl(srv), '-x', '{"services":["finance"],"version":1}', '-w', '1']);
  const exit = await w.done;
  assert.notEqual(exit.code, 0);
  assert.match(w.out + w.err, /401/);
  assert.doesNotMatch(w.out, /"type":"ack"/);
});

// ---------------------------------------------------------------- metrics

test('metrics: connections, delivered events by service, latency; owner/admin/service only; Prometheus text', async () => {
  const owner = srv.token({ org: 1, user: 1, role: 'owner' });
  const m0 = await metrics(srv, owner);
  const { c: a } = await subscribed(srv, owner, ['finance']);
  const { c: b } = await subscribed(srv, srv.token({ org: 1, user: 2, role: 'manager', properties: [1] }), ['finance', 'guest']);
  const m1 = await metrics(srv, owner);
  assert.equal(m1.activeConnections, m0.activeConnections + 2);
  assert.equal(m1.connectionsTotal, m0.connectionsTotal + 2);

  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await pub({ propertyId: 1, data: { i } }));
  answers.push(await pub({ propertyId: 2, data: { i: 4 } })); // not for b
  answers.push(await pub({ service: 'guest', type: 'guest_checked_in', data: {} }));
  const last = answers[4];
  const ea = await a.takeEvents(5);
  assert.equal(ea.at(-1).offset, last.offset);
  await b.waitEvent((e) => e.service === 'guest');
  const eb = b.events();
  assert.equal(eb.length, 5, 'b: 4 finance events of property 1 and the guest event');

  const m2 = await metrics(srv, owner);
  const got = ea.length + eb.length; // 10 copies
  assert.equal(m2.eventsDelivered - m1.eventsDelivered, got, 'eventsDelivered counts every copy written');
  assert.equal(m2.eventsByService.finance - m1.eventsByService.finance, 9);
  assert.equal(m2.eventsByService.guest - m1.eventsByService.guest, 1);
  assert.equal(m2.eventsPublishedByService.finance - m1.eventsPublishedByService.finance, 5);
  assert.equal(m2.eventsPublishedByService.guest - m1.eventsPublishedByService.guest, 1);
  assert.ok(m2.eventsDelivered >= got);
  assert.equal(m2.activeConnections, m1.activeConnections);
  assert.ok(m2.messagesOut - m1.messagesOut >= 2, 'at least one events message per client');
  assert.ok(m2.bytesOut > m1.bytesOut);
  assert.ok(m2.messagesIn >= m0.messagesIn + 2, 'the two handshakes');
  assert.equal(typeof m2.avgLatencyMs, 'number');
  assert.ok(m2.avgLatencyMs > 0 && m2.avgLatencyMs < 5000, `avgLatencyMs ${m2.avgLatencyMs}`);
  for (const k of ['p50', 'p95', 'p99', 'max']) {
    assert.equal(typeof m2.latencyMs[k], 'number', k);
    assert.ok(m2.latencyMs[k] > 0 && m2.latencyMs[k] < 5000, `${k} ${m2.latencyMs[k]}`);
  }
  assert.ok(m2.latencyMs.p99 >= m2.latencyMs.p50);
  for (const k of ['resumes', 'resets', 'slowConsumerCloses', 'handshakesFailed']) {
    assert.ok(Number.isInteger(m2[k]), k);
  }

  // Access: owner, admin, service read; staff and manager do not; no token is 401.
  for (const role of ['admin', 'service']) {
    const res = await srv.fetch('/v2/realtime/metrics', { token: srv.token({ org: 1, user: 3, role }) });
    assert.equal(res.status, 200, role);
  }
  for (const role of ['staff', 'manager']) {
    const res = await srv.fetch('/v2/realtime/metrics', { token: srv.token({ org: 1, user: 3, role }) });
    assert.equal(res.status, 403, role);
    assert.equal((await res.json()).error.code, 'forbidden');
  }
  assert.equal((await srv.fetch('/v2/realtime/metrics')).status, 401);

  // Prometheus text.
  const res = await srv.fetch('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/plain/);
  const text = await res.text();
  const value = (re) => {
    const m = re.exec(text);
    assert.ok(m, `${re} in /metrics:\n${text.slice(0, 3000)}`);
    return Number(m[1]);
  };
  assert.equal(value(/^bellhop_stream_connections (\d+)$/m), m2.activeConnections);
  assert.ok(value(/^bellhop_events_delivered_total\{service="finance"\} (\d+)$/m) >= m2.eventsByService.finance);
  assert.ok(value(/^bellhop_events_published_total\{service="finance"\} (\d+)$/m) >= m2.eventsPublishedByService.finance);
  assert.match(text, /^# TYPE bellhop_delivery_latency_seconds histogram$/m);
  assert.ok(value(/^bellhop_delivery_latency_seconds_bucket\{le="[0-9.e+-]+"\} (\d+)$/m) >= 0);
  const inf = value(/^bellhop_delivery_latency_seconds_bucket\{le="\+Inf"\} (\d+)$/m);
  assert.ok(inf >= m2.eventsDelivered, `+Inf bucket ${inf} >= delivered ${m2.eventsDelivered}`);
  assert.equal(value(/^bellhop_delivery_latency_seconds_count (\d+)$/m), inf);
  // Buckets are cumulative.
  const buckets = [...text.matchAll(/^bellhop_delivery_latency_seconds_bucket\{le="[^"]+"\} (\d+)$/mg)].map((m) => Number(m[1]));
  assert.deepEqual(buckets, [...buckets].sort((x, y) => x - y));

  // Closing brings activeConnections back down.
  await a.close();
  await b.close();
  await waitFor(async () => (await metrics(srv, owner)).activeConnections === m0.activeConnections,
    { timeout: 3000, what: 'activeConnections back to its start value' });
});

// ---------------------------------------------------------------- publish validation

test('publish validation: 400 invalid_field, 401, 403; refused publishes store nothing', async () => {
  const svcTok = pub.token;
  const owner = srv.token({ org: 1, user: 1, role: 'owner' });
  const { c: org1, ack: ack1 } = await subscribed(srv, owner, ['finance']);
  const { ack: ack2 } = await subscribed(srv, srv.token({ org: 2, user: 1, role: 'owner' }), ['finance']);
  const post = (token, json) => srv.fetch('/v2/realtime/publish', { method: 'POST', token, json });
  const expect = async (res, status, code) => {
    const text = await res.text();
    assert.equal(res.status, status, text);
    const body = JSON.parse(text);
    if (code) assert.equal(body.error?.code, code, text);
    assert.ok(body.error?.message?.length > 0, text);
  };
  const ok = { orgId: 1, service: 'finance', type: 'revenue_created', propertyId: 1, data: { a: 1 } };

  await expect(await post(svcTok, { ...ok, service: 'nope' }), 400, 'invalid_field');
  await expect(await post(svcTok, { ...ok, service: 'Finance' }), 400, 'invalid_field');
  await expect(await post(svcTok, { ...ok, service: undefined }), 400, 'invalid_field');
  await expect(await post(svcTok, { ...ok, service: 7 }), 400, 'invalid_field');
  for (const type of ['Revenue_created', 'revenue created', '', 'a'.repeat(65), 'revenue-created', 'é', 5, null]) {
    await expect(await post(svcTok, { ...ok, type }), 400, 'invalid_field');
  }
  await expect(await post(svcTok, { ...ok, type: undefined }), 400, 'invalid_field');
  for (const data of [[1, 2], 'str', 5, true]) {
    await expect(await post(svcTok, { ...ok, data }), 400, 'invalid_field');
  }
  await expect(await post(svcTok, { ...ok, propertyId: 'one' }), 400, 'invalid_field');
  await expect(await post(svcTok, { ...ok, propertyId: -1 }), 400, 'invalid_field');
  await expect(await post(svcTok, { ...ok, orgId: 0 }), 400, 'invalid_field');
  await expect(await post(svcTok, { ...ok, orgId: 'x' }), 400, 'invalid_field');

  for (const role of ['staff', 'manager', 'finance', 'front_desk']) {
    await expect(await post(srv.token({ org: 1, user: 5, role }), ok), 403, 'forbidden');
  }
  await expect(await post(owner, { ...ok, orgId: 2 }), 403, 'forbidden');
  await expect(await post(srv.token({ org: 1, user: 2, role: 'admin' }), { ...ok, orgId: 2 }), 403, 'forbidden');
  await expect(await post(undefined, ok), 401, 'unauthorized');
  await expect(await post('garbage.token.here', ok), 401, 'invalid_token');

  // Accepted: the type edge cases, owner/admin in their own org (orgId defaulting to the token's).
  const accepted = [];
  for (const [tok, body] of [
    [svcTok, { ...ok, type: 'a'.repeat(64) }],
    [svcTok, { ...ok, type: 'x.y_z.0', propertyId: null, data: undefined }],
    [owner, { ...ok, orgId: undefined, data: { by: 'owner' } }],
    [srv.token({ org: 1, user: 2, role: 'admin' }), { ...ok, data: { by: 'admin' } }],
  ]) {
    const res = await post(tok, body);
    const text = await res.text();
    assert.equal(res.status, 201, `${JSON.stringify(body).slice(0, 100)}: ${text}`);
    accepted.push(JSON.parse(text));
  }
  const base = ack1.positions.finance.offset;
  assert.deepEqual(accepted.map((a) => a.offset), [1, 2, 3, 4].map((k) => base + k), 'refused publishes took no offset');
  assert.ok(accepted.every((a) => a.orgId === 1));
  assert.equal(accepted[0].type, 'a'.repeat(64));
  const evs = await org1.takeEvents(4);
  assert.deepEqual(evs.map((e) => e.offset), accepted.map((a) => a.offset));
  assert.deepEqual(evs[1].data, {}, 'data defaults to {}');
  assert.equal(evs[1].propertyId ?? null, null);
  assert.deepEqual(evs[2].data, { by: 'owner' });
  const org2 = await pub({ orgId: 2 });
  // publisher() is bound to org 1's token, but a service token may publish to any org.
  assert.equal(org2.orgId, 2);
  assert.equal(org2.offset, ack2.positions.finance.offset + 1, 'the refused cross-org publishes stored nothing in org 2');
});
