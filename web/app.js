// Shows the server's health on the landing page.
const el = document.getElementById('status');
try {
  const res = await fetch('/health');
  const body = await res.json();
  el.textContent = `${body.status} · v${body.version} · store ${body.store.backend}`;
} catch (err) {
  el.textContent = 'unreachable';
}
