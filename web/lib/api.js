// A small JSON-over-HTTP helper for the REST endpoints (docs/PROTOCOL.md), used by the console.
//
//   const api = createApi({ getToken: () => token });
//   const { token, user } = await api.login(email, password);
//   const { revenue, event } = await api.post('/finance/revenue', { propertyId: 1, amountCents: 1200, source: 'room' });
//
// Errors reject with ApiError carrying the HTTP status and the server's error code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function createApi({ baseUrl = globalThis.location?.origin ?? '', getToken = () => null, fetch: f } = {}) {
  const doFetch = f ?? globalThis.fetch.bind(globalThis);
  async function request(method, path, body) {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('path must start with /');
    const headers = {};
    const token = await getToken();
    if (token) headers.authorization = `Bearer ${token}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await doFetch(baseUrl + path, init);
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.error?.message ?? text.slice(0, 200));
    return json;
  }
  return {
    request,
    get: (p) => request('GET', p),
    post: (p, b) => request('POST', p, b ?? {}),
    patch: (p, b) => request('PATCH', p, b),
    del: (p) => request('DELETE', p),
    login: (email, password) => request('POST', '/auth/login', { email, password }),
  };
}
