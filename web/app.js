// The console's entry point: session, the one realtime connection, and the page router.
// Pages live in console/*.js; the client library they use is lib/*.js (see README.md).
import { createApi, ApiError } from './lib/api.js';
import { RealtimeClient } from './lib/realtime.js';
import { h, clear } from './console/dom.js';
import { renderLogin } from './console/login.js';
import { renderFeed } from './console/feed.js';
import { renderUploads } from './console/uploads.js';
import { renderChat } from './console/chat.js';
import { renderOperator } from './console/operator.js';

const SESSION_KEY = 'bellhop.session';
const main = document.getElementById('main');
const pages = { feed: renderFeed, uploads: renderUploads, chat: renderChat, operator: renderOperator };

const app = {
  session: null, // {token, user}
  api: createApi({ getToken: () => app.session?.token }),
  rt: null,
  services: [],
  feed: [], // newest last; capped: what the feed page shows after navigating back
  feedListeners: new Set(),
  history: [], // recent events from before this page's stream started, newest first
  historyListeners: new Set(),
  cleanup: null,
  logout,
  login,
};
window.bellhop = app; // handy from the devtools console

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s && typeof s.token === 'string' && s.user && typeof s.user === 'object') return s;
  } catch { /* damaged: log in again */ }
  return null;
}

async function login(token, user) {
  app.session = { token, user };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(app.session));
  await startRealtime();
  showChrome();
  if (!location.hash || location.hash === '#/login') location.hash = '#/feed';
  else route();
}

function logout() {
  app.rt?.stop();
  app.rt = null;
  app.session = null;
  app.feed = [];
  app.history = [];
  sessionStorage.removeItem(SESSION_KEY);
  sessionStorage.removeItem('bellhop.realtime.positions');
  showChrome();
  location.hash = '#/login';
}

function showChrome() {
  const on = !!app.session;
  document.getElementById('nav').hidden = !on;
  document.getElementById('who').hidden = !on;
  document.getElementById('who-name').textContent = on ? `${app.session.user.name} · ${app.session.user.role}` : '';
}

/** One realtime connection for the whole console, on the services this role may read. */
async function startRealtime() {
  app.rt?.stop();
  const cfg = await app.api.get('/v2/realtime/config');
  app.services = Object.keys(cfg.services || {});
  if (app.services.length === 0) return;
  const rt = new RealtimeClient({
    services: app.services,
    getToken: () => app.session.token,
    storage: sessionStorage,
    backoff: { initialMs: 250, maxMs: 5000 },
  });
  app.rt = rt;
  const pill = document.getElementById('rt-status');
  rt.on('status', (status, info) => {
    pill.textContent = status;
    pill.dataset.status = status;
    if (info.code === 4401) logout(); // the token expired: log in again
  });
  // The seed's Example 1: each service's batches arrive as a window CustomEvent.
  for (const s of app.services) {
    window.addEventListener(`${s}-stream-events`, (e) => {
      if (app.rt !== rt) return;
      for (const ev of e.detail.events) app.feed.push(ev);
      if (app.feed.length > 500) app.feed.splice(0, app.feed.length - 500);
      for (const cb of app.feedListeners) cb(e.detail.events, s);
    });
  }
  rt.on('error', (err) => console.debug('realtime:', err.message));
  let backfilled = false;
  rt.on('status', (status) => {
    if (status !== 'open' || backfilled) return;
    backfilled = true;
    backfill(rt);
  });
  rt.start();
}

/**
 * So a fresh page is not empty: the last few events of each service, read once with a
 * non-blocking long-poll from just before the position the stream started at. They are shown
 * as history, below the live rows; anything at or after the live position comes from the stream.
 */
async function backfill(rt) {
  const PER_SERVICE = 10;
  const positions = rt.positions;
  const found = [];
  await Promise.all(Object.entries(positions).map(async ([service, pos]) => {
    if (!(pos.offset > 0)) return;
    const since = Math.max(0, pos.offset - PER_SERVICE);
    try {
      const res = await app.api.get(`/v1/realtime/${service}/poll?since=${since}&epoch=${pos.epoch}&timeout=0`);
      if (res && !res.reset && Array.isArray(res.events)) found.push(...res.events.filter((e) => e.offset <= pos.offset));
    } catch { /* history is a nicety */ }
  }));
  if (app.rt !== rt || found.length === 0) return;
  found.sort((a, b) => String(b.timestamp).localeCompare(String(a.timestamp)));
  app.history = found;
  for (const cb of app.historyListeners) cb(found);
}

window.addEventListener('online', () => app.rt?.reconnectNow());

function route() {
  app.cleanup?.();
  app.cleanup = null;
  clear(main);
  const name = (location.hash.replace(/^#\//, '') || 'feed').split('?')[0];
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#/${name}`) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (!app.session || name === 'login') {
    if (app.session) { location.hash = '#/feed'; return; }
    app.cleanup = renderLogin(main, app);
    document.title = 'Log in · bellhop';
    return;
  }
  const render = pages[name];
  if (!render) {
    main.append(h('h2', {}, 'Not found'), h('p', {}, h('a', { href: '#/feed' }, 'Back to the live feed')));
    return;
  }
  document.title = `${{ feed: 'Live feed', uploads: 'Documents', chat: 'Chat', operator: 'Operator' }[name]} · bellhop`;
  app.cleanup = render(main, app) || null;
  main.focus({ preventScroll: true });
}

document.getElementById('logout').addEventListener('click', logout);
window.addEventListener('hashchange', route);

(async function boot() {
  const saved = loadSession();
  if (saved) {
    app.session = saved;
    try {
      const me = await app.api.get('/auth/me');
      if (me.user) app.session.user = { ...app.session.user, ...me.user };
      await startRealtime();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) { app.session = null; sessionStorage.removeItem(SESSION_KEY); }
    }
  }
  showChrome();
  route();
})();
