//! The tracker's size budget: under 3 KB gzipped (the figure is in BENCHMARKS.md), and the
//! source free of what a strict CSP or the page could trip over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { trackerFile } from './lib/stub.mjs';

test('t.js stays under 3 KB gzipped and uses no eval-like code', () => {
  const src = fs.readFileSync(trackerFile);
  const gz = zlib.gzipSync(src, { level: 9 }).length;
  console.log(`t.js: ${src.length} bytes raw, ${gz} bytes gzip -9`);
  assert.ok(gz < 3000, `t.js is ${gz} bytes gzipped`);
  const text = src.toString('utf8');
  for (const bad of [/\beval\(/, /new Function/, /setTimeout\(\s*['"`]/, /innerHTML/, /document\.write/, /localStorage/, /sessionStorage/]) {
    assert.doesNotMatch(text, bad);
  }
});
