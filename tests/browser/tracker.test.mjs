//! The tracker against a stub collector in node: what it sends, how, and when; consent and
//! device storage; a strict CSP; an unreachable collector; answers; tq_pt; DNT/GPC; hash routing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, watch, setHidden, until } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';
import { startStub } from './lib/stub.mjs';
import { walk, checkSent, checkRows } from './lib/journey.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PT = 'person-token-abc';

test('a full visit: pageviews, SPA, pings, hide, event, identify, consent, download, outbound', async () => {
  const stub = await startStub();
  const site = await startSite({ COLLECTOR: stub.origin, PT, PING: '1', OUTBOUND: '' });
  const outbound = `http://localhost:${site.port}/landing.html`;
  site.vars.OUTBOUND = outbound;
  const page = await browser.context.newPage();
  const problems = watch(page);
  const { sent } = stub;
  try {
    const walked = await walk({ page, context: browser.context, sent, site: site.origin, outbound });
    checkSent(sent, walked, PT);
    const rows = sent.map(({ at, hit: h }) => ({ type: h.e || 'pageview', url: h.u, title: h.t || '', referrer: h.r || '', event_name: h.n || '', props: h.p || {}, client_id: h.id, ts: at }));
    const figures = checkRows(rows, sent, walked, site.origin, outbound);
    console.log('stub visit:', JSON.stringify(figures));
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await site.close();
    await stub.close();
  }
});

/** A loopback port with nothing listening (bound, read, released). */
async function deadPort() {
  const s = (await import('node:net')).createServer();
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

test('collector unreachable: no page errors, commands queue, hits arrive once it is back', async () => {
  const port = await deadPort();
  const collector = `http://127.0.0.1:${port}`;
  // The site serves t.js itself; hits go to the dead collector (data-collector).
  const site = await startSite({ COLLECTOR: collector, SCRIPT: '/t.js', PING: '0', EXTRA: `data-collector="${collector}"` });
  const page = await browser.context.newPage();
  const problems = watch(page);
  let stub;
  try {
    await page.goto(`${site.origin}/`);
    await page.click('#pricing');
    await page.click('#signup');
    assert.equal(await page.evaluate(() => window.tq.loaded), 1, 'tq is the live API');
    assert.equal(await page.evaluate(() => window.tq.push(['track', 'x', { deep: { a: 1 } }], ['nonsense'], null, 42, ['track', 'cjk', { a: '漢'.repeat(900) }])), undefined);
    await page.waitForTimeout(1500);
    stub = await startStub({ port });
    const arrived = await until(() => stub.sent.length >= 5, 15_000);
    assert.ok(arrived, `only ${stub.sent.length} hits arrived after the collector came back`);
    await page.waitForTimeout(1500);
    const got = stub.sent.map((s) => [s.hit.e, s.hit.n || s.hit.u.replace(site.origin, '')]);
    assert.deepEqual(got, [['pageview', '/'], ['pageview', '/pricing'], ['event', 'signup'], ['event', 'x'], ['event', 'cjk']]);
    // A nested property would be refused by the collector; the tracker flattens it.
    assert.deepEqual(stub.sent[3].hit.p, { deep: '[object Object]' });
    // Over the collector's 2 KiB (UTF-8 bytes) the props are dropped, the event kept.
    assert.equal(stub.sent[4].hit.p, undefined);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await site.close();
    await stub?.close();
  }
});

test('collector unreachable: the queue is bounded to the newest 100 hits', async () => {
  const port = await deadPort();
  const collector = `http://127.0.0.1:${port}`;
  const site = await startSite({ COLLECTOR: collector, SCRIPT: '/t.js', PING: '0', EXTRA: `data-collector="${collector}"` });
  const page = await browser.context.newPage();
  const problems = watch(page);
  let stub;
  try {
    await page.goto(`${site.origin}/`);
    await page.evaluate(() => { for (let i = 0; i < 150; i++) window.tq.push(['track', `e${i}`]); });
    stub = await startStub({ port });
    await until(() => stub.sent.length >= 100, 15_000);
    await page.waitForTimeout(1500);
    assert.deepEqual(stub.sent.map((s) => s.hit.n), Array.from({ length: 100 }, (_, i) => `e${i + 50}`));
    assert.ok(stub.sent.every((s) => s.via === 'fetch'));
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await site.close();
    await stub?.close();
  }
});

test('answers: 5xx is retried with the same id, 4xx is not', async () => {
  for (const [name, status, want] of [['503 then 202', (n) => (n < 2 ? 503 : 202), [503, 503, 202]], ['400', () => 400, [400]]]) {
    const stub = await startStub({ status });
    const site = await startSite({ COLLECTOR: stub.origin, PING: '0', EXTRA: 'data-auto="false"' });
    const page = await browser.context.newPage();
    try {
      await page.goto(`${site.origin}/`);
      await page.click('#signup');
      await until(() => stub.sent.length >= want.length, 10_000);
      await page.waitForTimeout(2500);
      assert.deepEqual(stub.sent.map((s) => s.status), want, name);
      assert.equal(new Set(stub.sent.map((s) => s.hit.id)).size, 1, `${name}: one hit, one id`);
    } finally {
      await page.close();
      await site.close();
      await stub.close();
    }
  }
});

async function cspVisit(stub, init) {
  const site = await startSite({ COLLECTOR: stub.origin, PT, PING: '1' });
  const page = await browser.context.newPage();
  const problems = watch(page);
  await page.addInitScript(init || (() => {}));
  await page.addInitScript(() => {
    window.violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  try {
    const res = await page.goto(`${site.origin}/csp.html`);
    assert.match(res.headers()['content-security-policy'], /script-src 'self' http:\/\/127\.0\.0\.1:\d+; connect-src/);
    await page.click('#pricing');
    await page.click('#consent-yes');
    await page.click('#signup');
    await page.click('#download');
    await setHidden(page, true);
    await until(() => stub.sent.some((s) => s.hit.e === 'ping'), 5000);
    await page.click('#consent-no');
    const seen = await page.evaluate(() => window.violations);
    // The listener does hear violations: an image from elsewhere is blocked and reported.
    await page.evaluate(() => { new Image().src = 'http://127.0.0.2:9/x.gif'; });
    const heard = await until(() => page.evaluate(() => window.violations.length > 0), 3000);
    return { seen, heard, problems };
  } finally {
    await page.close();
    await site.close();
  }
}

test('strict CSP: the tracker works and causes no violation (fetch, beacon and pixel paths)', async () => {
  for (const [name, init] of [['fetch+beacon', null], ['pixel only', () => { delete window.fetch; Navigator.prototype.sendBeacon = undefined; }]]) {
    const stub = await startStub();
    try {
      const { seen, heard, problems } = await cspVisit(stub, init);
      assert.deepEqual(seen, [], `${name}: CSP violations`);
      assert.ok(heard, 'violations are observable');
      assert.deepEqual(problems.filter((p) => !p.includes('127.0.0.2')), [], name);
      const types = stub.sent.map((s) => s.hit.e).filter((e) => e !== 'ping');
      assert.deepEqual(types, ['pageview', 'pageview', 'event', 'download'], name);
      assert.ok(stub.sent.every((s) => s.via === (name === 'pixel only' ? 'pixel' : s.hit.e === 'ping' ? 'beacon' : 'fetch')), name);
    } finally {
      await stub.close();
    }
  }
});

test('DNT and GPC mean anonymous: consent(true) stores nothing and sends no v', async () => {
  const opts = {
    DNT: () => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' }),
    GPC: () => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }),
  };
  for (const [name, init] of Object.entries(opts)) {
    const stub = await startStub();
    const site = await startSite({ COLLECTOR: stub.origin, PT });
    const page = await browser.context.newPage();
    await page.addInitScript(init);
    try {
      await page.goto(`${site.origin}/`);
      await page.click('#consent-yes');
      await page.click('#signup');
      await until(() => stub.sent.length >= 2);
      assert.deepEqual(await browser.context.cookies(), [], name);
      assert.equal(await page.evaluate(() => localStorage.length + document.cookie.length), 0, name);
      assert.deepEqual(stub.sent.map((s) => [s.hit.e, s.hit.v]), [['pageview', undefined], ['event', undefined]], name);
    } finally {
      await page.close();
      await site.close();
      await stub.close();
    }
  }
});

test('tq_pt from a mailing click is sent as pt and removed from the URL; queued commands run first', async () => {
  const stub = await startStub();
  const site = await startSite({ COLLECTOR: stub.origin });
  const page = await browser.context.newPage();
  // Commands queued before the tracker loads (the window.tq = window.tq || [] pattern).
  await page.addInitScript(() => { window.tq = [['track', 'early', { a: 1 }], ['consent', true]]; });
  try {
    await page.goto(`${site.origin}/landing-page?utm_source=mail&tq_pt=TOKEN123&mtm_campaign=c1`);
    await until(() => stub.sent.length >= 2);
    assert.equal(page.url(), `${site.origin}/landing-page?utm_source=mail&mtm_campaign=c1`);
    const [pv, ev] = stub.sent.map((s) => s.hit);
    assert.equal(pv.e, 'pageview');
    assert.equal(pv.u, `${site.origin}/landing-page?utm_source=mail&mtm_campaign=c1`);
    assert.equal(pv.pt, 'TOKEN123');
    assert.ok(pv.v && pv.v === ev.v, 'queued consent applies to the first pageview');
    assert.deepEqual([ev.e, ev.n, ev.p], ['event', 'early', { a: 1 }]);
    await page.click('#pricing');
    await until(() => stub.sent.length >= 3);
    assert.equal(stub.sent.length, 3, 'the replaceState that removed tq_pt is not a pageview');
    await page.click('#consent-no');
  } finally {
    await page.close();
    await site.close();
    await stub.close();
  }
});

test('hash routing counts only with data-hash', async () => {
  for (const hash of [false, true]) {
    const stub = await startStub();
    const site = await startSite({ COLLECTOR: stub.origin, EXTRA: hash ? 'data-hash' : '' });
    const page = await browser.context.newPage();
    try {
      await page.goto(`${site.origin}/#/a`);
      await until(() => stub.sent.length >= 1);
      await page.evaluate(() => { location.hash = '#/b'; });
      await page.evaluate(() => history.pushState({}, '', '#/c'));
      await page.waitForTimeout(500);
      const urls = stub.sent.map((s) => s.hit.u.replace(site.origin, ''));
      assert.deepEqual(urls, hash ? ['/#/a', '/#/b', '/#/c'] : ['/']);
    } finally {
      await page.close();
      await site.close();
      await stub.close();
    }
  }
});
