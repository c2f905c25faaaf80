#!/usr/bin/env bash
# Install Debian's Chromium for the gpu.js browser tests (test/browser/). Never a
# browser download: playwright-core only drives /usr/bin/chromium. Call it from
# .ci/run before `npm test` and export CELDA_REQUIRE_BROWSER=1, so that a
# missing browser fails the run instead of skipping the suite.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium: $(/usr/bin/chromium --version)"
