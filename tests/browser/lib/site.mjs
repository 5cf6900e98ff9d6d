//! The test site: static pages from site/ on 127.0.0.1, with the collector origin, the
//! person token and the ping interval filled in, and a strict CSP on the page that asks for it.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackerFile } from './stub.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'site');
const types = { '.html': 'text/html; charset=utf-8', '.js': 'application/javascript', '.pdf': 'application/pdf' };

/** The CSP a page with the tracker needs (documented in README "Tracker"). */
export function strictCsp(collector) {
  return [
    "default-src 'none'",
    `script-src 'self' ${collector}`,
    `connect-src ${collector}`,
    `img-src ${collector}`,
    "base-uri 'none'",
    "form-action 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
}

/**
 * Starts the site. `vars` fills {{NAME}} placeholders in HTML (COLLECTOR, SCRIPT, SITE, PT, PING,
 * OUTBOUND, EXTRA); it may be changed while the site runs;
 * pages named csp*.html are served with `strictCsp(vars.COLLECTOR)`.
 */
export async function startSite(vars) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let name = url.pathname === '/' ? '/index.html' : url.pathname;
    // The site may serve the tracker itself (from the repo), e.g. when the collector is down.
    if (name === '/t.js') {
      res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(fs.readFileSync(trackerFile));
      return;
    }
    // The SPA's routes all serve the app's one page.
    if (!path.extname(name)) name = '/index.html';
    const file = path.join(root, path.normalize(name));
    if (!file.startsWith(root) || !fs.existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    let body = fs.readFileSync(file);
    const headers = { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' };
    if (file.endsWith('.html')) {
      const fill = { SCRIPT: `${vars.COLLECTOR}/t.js`, PING: '15', SITE: 'test-site', ...vars };
      body = body.toString('utf8').replace(/\{\{(\w+)\}\}/g, (_, k) => fill[k] ?? '');
      if (path.basename(file).startsWith('csp')) headers['Content-Security-Policy'] = strictCsp(vars.COLLECTOR);
    }
    if (file.endsWith('.pdf')) headers['Content-Disposition'] = 'attachment; filename="report.pdf"';
    res.writeHead(200, headers).end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { origin: `http://127.0.0.1:${port}`, port, vars, close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }) };
}
