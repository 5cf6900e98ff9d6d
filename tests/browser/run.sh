#!/usr/bin/env bash
# Browser tests of the tracker (t.js) in headless Debian Chromium: builds the collector, installs
# the npm test packages when missing, then runs node's test runner over tests/browser/*.test.mjs
# (each test file starts and stops its own site, stub, ClickHouse and collector). Bounded in time.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
cargo build -q -p collector -p aggregator
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm install --no-audit --no-fund --silent)
fi
cd "$here"
exec timeout --kill-after=10 "${BROWSER_TESTS_TIMEOUT_S:-600}" \
  node --test --test-concurrency=1 --test-timeout=240000 --test-reporter=spec "$@" ./*.test.mjs
