#!/usr/bin/env bash
# Starts Causeway in ONE process — the embedded mode: command API, event-sourced trainers,
# projections and the SSE gateway over the in-memory event store, bus and read models — and
# serves the demo page. Nothing to install but Node 20; no server is started.
# Settings come from the environment (PORT, default 3000; see apps/embedded/src/config).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/pnpm.sh
source scripts/lib/servers.sh
source scripts/lib/secrets.sh
ensure_pnpm

install_dependencies
# The admin token of /admin/* (the dead-letter CLI reads .infra/admin-token), as start:distributed.
ensure_admin_token
echo "==> build"
pnpm exec turbo run build --filter=@causeway/embedded... --output-logs=errors-only
echo "==> starting the embedded system: open http://${HOST:-127.0.0.1}:${PORT:-3000}/ in a few tabs (Ctrl-C stops it)"
# exec, like the "start" script's `exec bash …`: node replaces this shell, so the SIGTERM npm
# forwards to its child reaches the app.
# The demo page signs in with dev tokens (any user name, no password): on for this command only;
# the app's own default is off. DEV_TOKENS=false npm start turns them off.
DEV_TOKENS="${DEV_TOKENS:-true}" exec node apps/embedded/dist/main.js
