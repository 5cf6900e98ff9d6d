//! A recording collector endpoint for the browser tests: every hit of `POST /e` and
//! `GET /p.gif` is kept with its arrival time and transport. Alone it answers like the
//! collector (a stub, for tracker-only tests); with `upstream` it forwards every request to
//! the real collector and relays its answer unchanged (so the browser still sees the real
//! collector's CORS, status codes and t.js), which lets the end-to-end test compare what
//! was sent with what reached ClickHouse. (Browsers do not report beacons sent from a page
//! that is being left, so the record is kept here rather than in the browser.)
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const trackerFile = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'collector', 'assets', 't.js');
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

function record(sent, req, url, body, status) {
  const at = Date.now();
  if (url.pathname === '/p.gif') {
    const hit = Object.fromEntries(url.searchParams);
    if (hit.p) hit.p = JSON.parse(hit.p);
    sent.push({ at, via: 'pixel', hit });
  } else if (url.pathname === '/e' && req.method === 'POST') {
    const parsed = JSON.parse(body.toString('utf8'));
    // sendBeacon requests are no-cors; fetch from the tracker is cors.
    const via = req.headers['sec-fetch-mode'] === 'no-cors' ? 'beacon' : 'fetch';
    for (const hit of Array.isArray(parsed) ? parsed : [parsed]) sent.push({ at, via, hit, status, contentType: req.headers['content-type'] });
  }
}

function answerLocally(req, res, url, body, status) {
  const cors = { 'Access-Control-Allow-Origin': '*' };
  if (url.pathname === '/t.js') res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(fs.readFileSync(trackerFile));
  else if (url.pathname === '/p.gif') res.writeHead(200, { 'Content-Type': 'image/gif', ...cors }).end(GIF);
  else if (url.pathname === '/e') {
    const parsed = JSON.parse(body.toString('utf8'));
    const answer = status === 202 ? { accepted: Array.isArray(parsed) ? parsed.length : 1 } : { error: 'test' };
    res.writeHead(status, { 'Content-Type': 'application/json', ...cors }).end(JSON.stringify(answer));
  } else res.writeHead(404, cors).end();
}

function forward(req, res, body, upstream) {
  const up = http.request(new URL(req.url, upstream), { method: req.method, headers: { ...req.headers, host: new URL(upstream).host } }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.writeHead(502).end());
  up.end(body);
}

/**
 * Starts the recorder on `port` (0 = any). `sent` holds `{at, via, hit, status}` in arrival
 * order; `status(n)` picks the stub's answer to the n-th `POST /e` (default 202).
 */
export async function startStub({ port = 0, upstream, status = () => 202 } = {}) {
  let posts = 0;
  const sent = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      const body = Buffer.concat(chunks);
      const code = url.pathname === '/e' ? status(posts++) : 200;
      try {
        record(sent, req, url, body, code);
      } catch (e) {
        sent.push({ at: Date.now(), via: 'unreadable', hit: {}, error: String(e) });
      }
      if (upstream) forward(req, res, body, upstream);
      else answerLocally(req, res, url, body, code);
    });
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  const actual = server.address().port;
  return {
    origin: `http://127.0.0.1:${actual}`,
    port: actual,
    sent,
    close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}
