// Exponential backoff with jitter, shared by the realtime, upload and chat clients.
//
// The n-th retry (n = 0, 1, 2, ...) waits base = min(maxMs, initialMs * factor^n), scaled into
// [base * (1 - jitter), base]: with the default jitter of 0.5 ("equal jitter") a crowd of
// clients cut off by one restart spreads its reconnects over half the window instead of arriving
// together, and no client waits less than half the nominal delay.

/** @param {{initialMs?:number,maxMs?:number,factor?:number,jitter?:number,random?:()=>number}} [opts] */
export function createBackoff(opts = {}) {
  const initialMs = opts.initialMs ?? 500;
  const maxMs = opts.maxMs ?? 30000;
  const factor = opts.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  const random = opts.random ?? Math.random;
  if (!(initialMs > 0) || !(maxMs >= initialMs) || !(factor >= 1)) {
    throw new RangeError('backoff: need 0 < initialMs <= maxMs and factor >= 1');
  }
  let attempt = 0;
  return {
    /** The delay before the next attempt; each call counts one more attempt. */
    next() {
      const base = Math.min(maxMs, initialMs * factor ** attempt);
      attempt++;
      return Math.round(base * (1 - jitter * random()));
    },
    /** Call once a connection really worked (the server answered), not merely opened. */
    reset() { attempt = 0; },
    get attempt() { return attempt; },
  };
}
