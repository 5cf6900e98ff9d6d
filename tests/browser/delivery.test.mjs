//! The tracker's delivery rules on a fake clock (node:vm with a minimal window): a failing
//! collector gets each hit at most 8 times with backoff doubling from 1 s and capped at 60 s,
//! and the backoff never collapses however long the collector stays down. Real-time versions
//! of these would take minutes; the browser tests cover the rest with a real Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import vm from 'node:vm';
import { webcrypto } from 'node:crypto';
import { trackerFile } from './lib/stub.mjs';

/** Loads t.js into a fake window whose fetch always fails; returns the window and its clock. */
function load(attrs) {
  const timers = [];
  let now = 0, seq = 0;
  const attempts = [];
  const listeners = {};
  const on = (type, fn) => { listeners[type] = fn; };
  const win = {
    document: {
      currentScript: { src: 'https://c.example/t.js', getAttribute: (k) => attrs[k.slice(5)] ?? null },
      cookie: '', title: 'T', referrer: '', visibilityState: 'visible', addEventListener: on,
    },
    navigator: { language: 'en', sendBeacon: () => true },
    history: { state: null, pushState() {}, replaceState() {} },
    location: new URL('https://site.example/a'),
    screen: { width: 800, height: 600 },
    crypto: webcrypto, URL, URLSearchParams, Blob, JSON, Math, Array, Object, String, Promise,
    Image: class {},
    fetch: (url, init) => { attempts.push({ at: now, hits: JSON.parse(init.body) }); return Promise.reject(new TypeError('down')); },
    setTimeout: (fn, ms = 0) => { timers.push({ at: now + Math.max(0, ms), fn, id: ++seq }); return seq; },
    clearTimeout: (id) => { const i = timers.findIndex((t) => t.id === id); if (i >= 0) timers.splice(i, 1); },
    setInterval: () => 0, clearInterval: () => {},
    addEventListener: on,
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(fs.readFileSync(trackerFile, 'utf8'), win);
  const settle = async () => { for (let i = 0; i < 20; i++) await Promise.resolve(); };
  /** Runs every timer due within `ms`, letting promise callbacks run in between. */
  const advance = async (ms) => {
    const end = now + ms;
    await settle();
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      if (!timers.length || timers[0].at > end) break;
      const t = timers.shift();
      now = t.at;
      t.fn();
      await settle();
    }
    now = end;
  };
  return { win, attempts, advance };
}

const gaps = (list) => list.slice(1).map((a, i) => a.at - list[i].at);

test('a hit is tried 8 times, backing off 1 s doubling to 60 s, then dropped', async () => {
  const { attempts, advance } = load({ site: 's1', ping: '0' });
  await advance(10 * 60e3);
  assert.equal(attempts.length, 8);
  assert.ok(attempts.every((a) => a.hits.length === 1 && a.hits[0].e === 'pageview'));
  assert.equal(new Set(attempts.map((a) => a.hits[0].id)).size, 1, 'the same client id every time');
  assert.deepEqual(gaps(attempts), [1000, 2000, 4000, 8000, 16000, 32000, 60000]);
});

test('however long the collector stays down, retries stay between 1 s and 60 s apart', async () => {
  const { win, attempts, advance } = load({ site: 's1', ping: '0' });
  for (let i = 0; i < 40; i++) {
    win.tq.push(['track', `e${i}`]);
    await advance(10 * 60e3);
  }
  assert.ok(attempts.length > 200, `${attempts.length} attempts`);
  const g = gaps(attempts).filter((x) => x > 0);
  assert.ok(Math.min(...g) >= 1000 && Math.max(...g) <= 10 * 60e3, `gaps ${Math.min(...g)}..${Math.max(...g)}`);
  assert.equal(attempts.filter((a) => a.hits.some((h) => h.n === 'e39')).length, 8);
});

test('without a site id, or with no usable script tag, it does nothing and throws nothing', () => {
  const { win, attempts } = load({ ping: '0' });
  assert.equal(attempts.length, 0);
  assert.equal(win.tq, undefined);
});
