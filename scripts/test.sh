#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs dependencies, brings up real Redis, Kafka
# and a MongoDB-wire server (infra/local/up; skipped for any server whose URL you exported),
# and Debian's Chromium for the browser test, then builds, lints, type-checks and runs unit and
# integration tests through turbo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/pnpm.sh
source scripts/lib/servers.sh
source scripts/lib/browser.sh
ensure_pnpm

install_dependencies
ensure_servers
ensure_browser

echo "==> prettier --check"
pnpm exec prettier --check . --log-level warn
echo "==> turbo: build, lint, typecheck, unit tests"
pnpm exec turbo run build lint typecheck test --concurrency=2 --output-logs=new-only "$@"
echo "==> turbo: integration tests against the real servers"
pnpm exec turbo run test:int --concurrency=1 --output-logs=full "$@"
