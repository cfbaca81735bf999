// Debian's Chromium driven by playwright-core (never a downloaded browser), headless.
//
//   const b = await launch();                 // one browser process
//   const page = await b.page(srv);           // a fresh context (own storage), errors collected
//   await b.close();                          // asserts no page error was collected
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.BELLHOP_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launch() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const errors = [];
  return {
    browser,
    errors,
    /** A page in its own context; uncaught page errors and console errors are collected. */
    async page({ viewport = { width: 1280, height: 860 } } = {}) {
      const ctx = await browser.newContext({ viewport });
      const page = await ctx.newPage();
      page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
      page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|WebSocket connection to/.test(m.text())) errors.push(`console: ${m.text()}`); });
      return page;
    },
    async close() { await browser.close(); },
  };
}

/** Saves a full-page screenshot as tests/browser/artifacts/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Logs in through the form (demo password unless given). */
export async function login(page, base, email, password = 'bellhop-demo') {
  await page.goto(`${base}/#/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#rt-status[data-status="open"]').waitFor({ timeout: 10000 });
}
