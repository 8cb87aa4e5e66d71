#!/usr/bin/env bash
# The benchmarks, from a fresh clone: installs dependencies, brings up real Redis, Kafka and a
# MongoDB-wire server (infra/local/up; skipped for any server whose URL you exported), then runs
# bench/ (`npm run bench [-- suite…]`, suites: event-store aggregate-load transport sse live). Every figure
# is printed as a ratio to the raw client measured in the same run; results also go to
# bench/results/<timestamp>.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/pnpm.sh
source scripts/lib/servers.sh
ensure_pnpm

install_dependencies
ensure_servers

echo "==> benchmarks ${*:-(all suites)}"
pnpm --filter @causeway/bench run bench "$@"
