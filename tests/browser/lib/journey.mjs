//! The visit both browser tests replay (against the stub and against the real collector):
//! load, SPA navigation, ~3 s visible, hidden, custom event, identify, consent given and
//! withdrawn, a download and an outbound click. Records what the browser sent and when.
import assert from 'node:assert/strict';
import { setHidden, deviceState, until } from './browser.mjs';

export const VISIBLE_MS = 3000;
export const HIDDEN_MS = 2000;

const sentAfter = (sent, t, pred) => until(() => sent.find((s) => s.at >= t && pred(s.hit)), 10_000);

/**
 * Walks the visit on `page`. `site` is the test site origin, `outbound` a URL on another
 * host. Returns the time marks, the consented visitor id and device snapshots.
 */
export async function walk({ page, context, sent, site, outbound }) {
  const marks = {};
  const step = async (name, action, pred) => {
    marks[name] = Date.now();
    if (process.env.TQ_DEBUG) console.log(`step ${name} at +${marks[name] - (marks.load || marks[name])} ms, sent ${sent.length}`);
    await action();
    if (pred) assert.ok(await sentAfter(sent, marks[name], pred), `no hit sent after step ${name}`);
  };
  const e = (type, more = () => true) => (h) => (h.e || 'pageview') === type && more(h);

  await step('load', () => page.goto(`${site}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`), e('pageview'));
  const beforeConsent = await deviceState(context, page);
  await step('spa', () => page.click('#pricing'), e('pageview', (h) => h.u.endsWith('/pricing')));
  await page.waitForTimeout(VISIBLE_MS);
  await step('hide', () => setHidden(page, true), e('ping'));
  await page.waitForTimeout(HIDDEN_MS);
  await step('show', () => setHidden(page, false));
  await step('signup', () => page.click('#signup'), e('event', (h) => h.n === 'signup'));
  await step('identify', () => page.click('#identify'));
  await step('consent', () => page.click('#consent-yes'));
  const consented = await deviceState(context, page);
  const cookie = consented.cookies.find((c) => c.name === '_tqv');
  await step('download', () => page.click('#download'), e('download'));
  await step('withdraw', () => page.click('#consent-no'));
  const withdrawn = await deviceState(context, page);
  await step('withdrawn', () => page.click('#withdrawn'), e('event', (h) => h.n === 'after_withdraw'));
  await step('outbound', () => Promise.all([page.waitForURL(outbound), page.click('#outbound')]), e('outbound'));
  assert.ok(await sentAfter(sent, marks.outbound, e('ping')), 'no final ping on pagehide');
  marks.end = Date.now();
  const allCookies = await context.cookies();
  return { marks, cookie, beforeConsent, consented, withdrawn, allCookies };
}

/** Checks what the browser sent and what the page kept, against the walk. */
export function checkSent(sent, walked, pt) {
  const { marks, cookie } = walked;
  // Nothing on the device before consent; one first-party cookie after; none after withdrawal.
  assert.deepEqual([walked.beforeConsent.cookies.length, walked.beforeConsent.local, walked.beforeConsent.session], [0, 0, 0]);
  assert.ok(cookie, 'consent(true) sets the _tqv cookie');
  assert.match(cookie.value, /^[A-Za-z0-9_-]{8,64}$/);
  assert.equal(cookie.sameSite, 'Lax');
  assert.equal(cookie.secure, false, 'Secure only on https');
  const days = (cookie.expires * 1000 - marks.consent) / 86400e3;
  assert.ok(days > 390 && days <= 396, `cookie lasts ${days} days (at most 13 months)`);
  assert.equal(walked.consented.local, 0);
  assert.equal(walked.withdrawn.cookies.length, 0, 'consent(false) removes the cookie');
  assert.equal(walked.allCookies.length, 0, 'no cookie anywhere at the end');

  for (const { at, hit } of sent) {
    const consented = at >= marks.consent && at < marks.withdraw;
    assert.equal(hit.v, consented ? cookie.value : undefined, `v on ${hit.e} at +${at - marks.load} ms`);
    assert.equal(hit.pt, at >= marks.identify && at < marks.withdraw ? pt : undefined, `pt on ${hit.e}`);
    assert.equal(hit.s, 'test-site');
    assert.match(hit.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
  assert.equal(new Set(sent.map((s) => s.hit.id)).size, sent.length, 'client ids are unique');
  // Pings travel by sendBeacon (text/plain); the rest by fetch.
  for (const { via, hit, contentType } of sent) {
    assert.equal(via, hit.e === 'ping' ? 'beacon' : 'fetch', `transport of ${hit.e}`);
    assert.match(contentType, /^text\/plain/);
  }
}

/**
 * Checks rows (normalised: type, url, title, referrer, event_name, props, client_id, ts)
 * against the walk and what was sent: exact counts per type, and time on page.
 */
export function checkRows(rows, sent, walked, site, outbound) {
  const { marks } = walked;
  const of = (t) => rows.filter((r) => r.type === t);
  const count = (list) => Object.fromEntries(['pageview', 'event', 'ping', 'outbound', 'download'].map((t) => [t, list.filter((x) => x === t).length]));
  assert.deepEqual(count(rows.map((r) => r.type)), count(sent.map((s) => s.hit.e || 'pageview')), 'every hit sent is one row');
  assert.deepEqual(new Set(rows.map((r) => r.client_id)), new Set(sent.map((s) => s.hit.id)));
  const c = count(rows.map((r) => r.type));
  assert.deepEqual({ ...c, ping: 0 }, { pageview: 2, event: 2, ping: 0, outbound: 1, download: 1 });

  const [home, pricing] = of('pageview').sort((a, b) => a.ts - b.ts);
  assert.equal(home.url, `${site}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`);
  assert.equal(home.title, 'Home');
  assert.equal(pricing.url, `${site}/pricing`);
  assert.equal(pricing.title, 'Pricing');
  assert.equal(pricing.referrer, home.url);
  const events = of('event').sort((a, b) => a.ts - b.ts);
  assert.deepEqual(events.map((r) => [r.event_name, r.props]), [['signup', { plan: 'pro', seats: 3 }], ['after_withdraw', {}]]);
  assert.equal(of('download')[0].event_name, `${site}/files/report.pdf`);
  assert.equal(of('outbound')[0].event_name, outbound);

  // Time on page: from the pricing pageview to the last ping before the page was shown
  // again, against the time the test kept it visible.
  const pings = of('ping').sort((a, b) => a.ts - b.ts);
  const spent = marks.hide - marks.spa;
  const lastVisible = pings.filter((p) => p.ts < marks.show).pop();
  assert.ok(lastVisible, 'a ping closes the visible stretch');
  const measured = lastVisible.ts - pricing.ts;
  assert.ok(Math.abs(measured - spent) < 1000, `time on page ${measured} ms vs ${spent} ms spent`);
  const periodic = pings.filter((p) => p.ts > pricing.ts && p.ts < marks.hide);
  assert.ok(periodic.length >= VISIBLE_MS / 1000 - 1 && periodic.length <= VISIBLE_MS / 1000 + 1, `${periodic.length} pings while visible`);
  const whileHidden = pings.filter((p) => p.ts > marks.hide + 500 && p.ts < marks.show);
  assert.equal(whileHidden.length, 0, 'no pings while hidden');
  assert.ok(pings.some((p) => p.ts >= marks.outbound), 'a last ping when the page is left');
  assert.ok(pings.every((p) => p.url === `${site}/pricing`));
  return { measured, spent, pings: pings.length };
}
