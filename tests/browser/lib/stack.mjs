//! The real back end for the end-to-end test: a private ClickHouse (scripts/clickhouse on free
//! loopback ports in a temp dir), the schema applied by `aggregator migrate`, and the
//! collector binary (target/debug/collector). Everything started here is stopped by `stop()`.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './browser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The collector binary `run.sh` builds. */
export const collectorBin = path.join(root, 'target', 'debug', 'collector');
export const LINK_KEYS = 'e2e:browser-test-secret-0123456789';

async function freePort() {
  const s = net.createServer();
  await new Promise((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

/**
 * A token as `common::token` signs it with the first LINK_KEYS key (no expiry): kind 1 click
 * (mailing, person, link, url), 3 person. The collector verifying it is part of what is tested.
 */
export function signToken({ kind, mailing = '', person = '', link = '', url = '' }, keys = LINK_KEYS) {
  const [kid, secret] = keys.split(',')[0].split(':');
  const short = (s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
  const long = Buffer.alloc(2);
  long.writeUInt16BE(Buffer.byteLength(url));
  const payload = Buffer.concat([Buffer.from([1, kind]), short(kid), Buffer.alloc(4), short(mailing), short(person), short(link), long, Buffer.from(url)]);
  const tag = crypto.createHmac('sha256', secret).update(payload).digest().subarray(0, 16);
  return Buffer.concat([payload, tag]).toString('base64url');
}

/** A person token for `identify`. */
export const personToken = (person) => signToken({ kind: 3, person });

/** Starts ClickHouse, migrates, runs `seed(query)` and starts the collector. */
export async function startStack({ seed } = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tq-e2e-'));
  const chEnv = { ...process.env, CLICKHOUSE_DIR: path.join(tmp, 'clickhouse'), CLICKHOUSE_HTTP_PORT: String(await freePort()), CLICKHOUSE_TCP_PORT: String(await freePort()) };
  const chUrl = `http://127.0.0.1:${chEnv.CLICKHOUSE_HTTP_PORT}`;
  const database = 'tracking_browser';
  const stops = [];
  // If the run is cut short (timeout, Ctrl-C), nothing started here may outlive it.
  const pidFile = path.join(chEnv.CLICKHOUSE_DIR, 'server.pid');
  let child;
  const emergency = () => {
    for (const pid of [child?.pid, fs.existsSync(pidFile) && Number(fs.readFileSync(pidFile, 'utf8'))]) {
      try { if (pid) process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  const onSignal = () => process.exit(1);
  process.once('exit', emergency);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const stop = async () => {
    for (const f of stops.reverse()) await f().catch(() => {});
    process.off('exit', emergency);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    execFileSync(path.join(root, 'scripts', 'clickhouse'), ['start'], { env: chEnv, stdio: ['ignore', 'ignore', 'inherit'], timeout: 90_000 });
    stops.push(async () => execFileSync(path.join(root, 'scripts', 'clickhouse'), ['stop'], { env: chEnv, stdio: 'ignore', timeout: 30_000 }));
    const query = async (sql, body) => {
      const res = await fetch(`${chUrl}/?database=${database}&query=${encodeURIComponent(sql)}`, { method: 'POST', body });
      const text = await res.text();
      if (!res.ok) throw new Error(`ClickHouse ${res.status}: ${text}`);
      return text;
    };
    const env = { ...process.env, CLICKHOUSE_URL: chUrl, CLICKHOUSE_DATABASE: database, LINK_KEYS, ADMIN_TOKEN: 'browser-test-admin-token' };
    await fetch(`${chUrl}/`, { method: 'POST', body: `CREATE DATABASE IF NOT EXISTS ${database}` });
    execFileSync(path.join(root, 'target', 'debug', 'aggregator'), ['migrate'], { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: 60_000 });
    if (seed) await seed(query);

    const listen = `127.0.0.1:${await freePort()}`;
    const ops = `127.0.0.1:${await freePort()}`;
    child = spawn(collectorBin, [], {
      env: { ...env, COLLECTOR_LISTEN: listen, COLLECTOR_OPS_LISTEN: ops, COLLECTOR_SPOOL_DIR: path.join(tmp, 'spool'), COLLECTOR_LOG: 'warn' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise((ok) => child.once('exit', ok));
    stops.push(async () => { child.kill('SIGTERM'); await Promise.race([exited, new Promise((ok) => setTimeout(ok, 25_000))]); child.kill('SIGKILL'); });
    const ready = await until(async () => (await fetch(`http://${ops}/readyz`).catch(() => null))?.ok, 30_000, 200);
    if (!ready) throw new Error('collector did not become ready');
    return { collector: `http://${listen}`, query, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
