//! End to end: the tracker in headless Chromium, the real collector binary and a real
//! ClickHouse. A recording relay in front of the collector keeps what the browser sent, so
//! the rows in `hits` can be checked against it and against the visit itself: types and
//! counts, URLs with utm, time on page, visitor ids only with consent, persons only through a
//! signed token whose person consents.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { launch, watch, until } from './lib/browser.mjs';
import { startSite } from './lib/site.mjs';
import { startStub, trackerFile } from './lib/stub.mjs';
import { execFileSync } from 'node:child_process';
import { startStack, personToken, signToken, collectorBin } from './lib/stack.mjs';
import { walk, checkSent, checkRows } from './lib/journey.mjs';

const PERSON = 'p-e2e-1';
const ACCOUNT = 'acc-e2e';
let browser, stack;

before(async () => {
  const day = new Date(Date.now() - 86400e3).toISOString().slice(0, 19).replace('T', ' ');
  stack = await startStack({
    seed: async (query) => {
      await query('INSERT INTO persons FORMAT JSONEachRow', JSON.stringify({ person_id: PERSON, account_id: ACCOUNT, email: 'e2e@example.com', attributes: '{}', updated_at: day, version: 1 }));
      await query('INSERT INTO consents FORMAT JSONEachRow', JSON.stringify({ consent_id: 'c-e2e-1', person_id: PERSON, purpose: 'tracking', granted: 1, source: 'test', text_version: 'v1', at: day, recorded_by: 'test', recorded_at: day }));
    },
  });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('a real visit lands in ClickHouse exactly as it happened', async () => {
  const relay = await startStub({ upstream: stack.collector });
  const pt = personToken(PERSON);
  const site = await startSite({ COLLECTOR: relay.origin, PT: pt, PING: '1' });
  const outbound = `http://localhost:${site.port}/landing.html`;
  site.vars.OUTBOUND = outbound;
  const page = await browser.context.newPage();
  const problems = watch(page);
  try {
    // The collector serves this repo's tracker, with an ETag.
    const js = await fetch(`${stack.collector}/t.js`);
    assert.equal(js.status, 200);
    assert.ok(js.headers.get('etag'));
    assert.equal(await js.text(), fs.readFileSync(trackerFile, 'utf8'));

    const walked = await walk({ page, context: browser.context, sent: relay.sent, site: site.origin, outbound });
    const { sent } = relay;
    checkSent(sent, walked, pt);
    assert.deepEqual(problems, []);

    // The collector flushes about every second; wait (bounded) for every hit sent. FINAL folds
    // a batch the collector may have replayed (same event_id), as every metric does.
    const countSql = "SELECT count() FROM hits FINAL WHERE site = 'test-site' FORMAT TSV";
    const landed = await until(async () => Number(await stack.query(countSql)) >= sent.length, 20_000, 250);
    assert.ok(landed, `only ${await stack.query(countSql)} of ${sent.length} hits reached ClickHouse`);
    await new Promise((r) => setTimeout(r, 1500)); // and nothing more arrives
    const raw = (await stack.query(
      "SELECT type, url, path, title, referrer, event_name, props, client_id, ts_ms, visitor_id, person_id, account_id, utm_source, utm_medium, utm_campaign FROM hits FINAL WHERE site = 'test-site' FORMAT JSONEachRow",
    )).trim().split('\n').map((l) => JSON.parse(l));
    const rows = raw.map((r) => ({ ...r, props: r.props ? JSON.parse(r.props) : {}, ts: Number(r.ts_ms) }));
    const figures = checkRows(rows, sent, walked, site.origin, outbound);
    console.log('real visit:', JSON.stringify(figures));

    const home = rows.find((r) => r.type === 'pageview' && r.path === '/');
    assert.deepEqual([home.utm_source, home.utm_medium, home.utm_campaign], ['newsletter', 'email', 'spring']);
    // Visitor ids: the consented `v` exactly while consent stood; otherwise the collector's
    // anonymous id, never derived from the cookie.
    const byId = new Map(sent.map((s) => [s.hit.id, s.hit]));
    const anonymous = new Set();
    for (const r of rows) {
      const hit = byId.get(r.client_id);
      if (hit.v) assert.equal(r.visitor_id, walked.cookie.value, `${r.type} with consent`);
      else {
        assert.notEqual(r.visitor_id, walked.cookie.value, `${r.type} without consent`);
        anonymous.add(r.visitor_id);
      }
      // The person only through the signed token (identify), whose consent stands.
      assert.deepEqual([r.person_id, r.account_id], hit.pt ? [PERSON, ACCOUNT] : ['', ''], `person on ${r.type}`);
    }
    assert.equal(anonymous.size, 1, 'one anonymous visitor');
    assert.ok(rows.filter((r) => r.person_id === PERSON).length >= 1);
    // A hit with both the consented v and the person token links the visitor to the person.
    const linkSql = "SELECT visitor_id, person_id, site FROM identity_links FINAL WHERE revoked = 0 FORMAT TSV";
    const links = await until(async () => (await stack.query(linkSql)).trim(), 20_000, 250);
    assert.equal(links, `${walked.cookie.value}\t${PERSON}\ttest-site`);
  } finally {
    await page.close();
    await site.close();
    await relay.close();
  }
});

test('the tags printed by `collector snippet` work as pasted, talking to the collector directly', async () => {
  const tags = execFileSync(collectorBin, ['snippet', '--site', 'snippet-site', '--origin', `${stack.collector}/`]).toString();
  assert.match(tags, /<script async src="http:\/\/127\.0\.0\.1:\d+\/t\.js" data-site="snippet-site"><\/script>/);
  const site = await startSite({ SNIPPET: tags });
  const page = await browser.context.newPage();
  const problems = watch(page);
  try {
    await page.goto(`${site.origin}/snippet.html?utm_campaign=snip`);
    const sql = "SELECT type, url, title FROM hits FINAL WHERE site = 'snippet-site' FORMAT TSV";
    const rows = await until(async () => (await stack.query(sql)).trim(), 20_000, 250);
    assert.equal(rows, `pageview\t${site.origin}/snippet.html?utm_campaign=snip\tSnippet`);
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await site.close();
  }
});

test('a mailing click lands with tq_pt: the landing pageview is the person, the URL is clean', async () => {
  const site = await startSite({ COLLECTOR: stack.collector, SITE: 'landing-site' });
  const landing = `${site.origin}/spring-offer?utm_source=mail&utm_campaign=m-e2e`;
  const click = `${stack.collector}/r/${signToken({ kind: 1, mailing: 'm-e2e', person: PERSON, link: 'l1', url: landing })}`;
  const page = await browser.context.newPage();
  // A person's browser: the collector judges HeadlessChrome a mail scanner and (rightly)
  // gives scanners no person token.
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('Network.setUserAgentOverride', { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' });
  const problems = watch(page);
  try {
    const res = await page.goto(click);
    const location = (await res.request().redirectedFrom().response()).headers().location;
    assert.match(location, /^http:\/\/127\.0\.0\.1:\d+\/spring-offer\?utm_source=mail&utm_campaign=m-e2e&tq_pt=[\w-]+$/);
    assert.equal(res.request().redirectedFrom()?.url(), click, 'the collector redirected');
    assert.equal(page.url(), landing, 'tq_pt is gone from the address bar');
    const sql = "SELECT type, url, person_id, account_id, utm_source FROM hits FINAL WHERE site = 'landing-site' FORMAT JSONEachRow";
    const rows = await until(async () => (await stack.query(sql)).trim(), 20_000, 250);
    assert.deepEqual(JSON.parse(rows), { type: 'pageview', url: landing, person_id: PERSON, account_id: ACCOUNT, utm_source: 'mail' });
    assert.deepEqual(await browser.context.cookies(), [], 'nothing stored without consent');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
    await site.close();
  }
});
