//! Headless Debian Chromium through playwright-core: a fresh profile per launch, the flags
//! that keep it from reaching out on its own, and page helpers the tests share.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'];

/** Launches Chromium on a new user-data-dir; `close()` also removes the profile. */
export async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    acceptDownloads: true,
    timeout: 60_000,
  });
  return {
    context,
    close: async () => { await context.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/**
 * Watches a page for what must never happen: uncaught errors and CSP violations.
 * Returns the live list of problems.
 */
export function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (/Content.Security.Policy|Trusted Type/i.test(m.text())) problems.push(`console: ${m.text()}`); });
  return problems;
}

/**
 * Headless Chromium keeps every page visible (minimising, other tabs and lifecycle states
 * do not change it), so hiding is emulated the way the page sees it: `visibilityState`,
 * `hidden` and a `visibilitychange` event.
 */
export async function setHidden(page, hidden) {
  await page.evaluate((hide) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hide ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hide });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** What the page keeps on the device: cookies of its origin and its localStorage. */
export async function deviceState(context, page) {
  const cookies = await context.cookies(page.url());
  const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie }));
  return { cookies, ...storage };
}

/** Polls `fn` until it returns a truthy value or `ms` pass; returns the last value. */
export async function until(fn, ms = 10_000, step = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, step));
  }
}
