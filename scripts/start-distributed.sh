#!/usr/bin/env bash
# Starts the distributed Causeway reference system from a fresh clone: installs dependencies,
# builds, brings up real Redis, Kafka and a MongoDB-wire server (infra/local/up; skipped for any
# server whose URL you exported), then runs the five apps — two sse-gateway and two
# trainer-service instances — waits until each is ready, and serves the demo page on the edge
# proxy (http://127.0.0.1:8080 unless EDGE_PORT says otherwise).
# Extra arguments go to the launcher, e.g. `npm run start:distributed -- --scale sse-gateway=3`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/pnpm.sh
source scripts/lib/servers.sh
source scripts/lib/secrets.sh
ensure_pnpm

install_dependencies
echo "==> build"
pnpm exec turbo run build --filter=@causeway/launcher... --output-logs=errors-only

# Asking for the options starts nothing.
for argument in "$@"; do
  case "$argument" in
    -h | --help) exec node packages/launcher/dist/cli.js --help ;;
  esac
done

# The servers keep running after Ctrl-C (infra/local/down stops them).
CAUSEWAY_KEEP_SERVERS=1 ensure_servers

# The admin token and the JWT secret: yours if exported, else generated for this clone and kept
# in .infra/admin-token and .infra/jwt-secret (mode 600). Never printed.
ensure_admin_token
ensure_jwt_secret

# The hint only when servers of this clone run (none when all three URLs were exported).
if [ -f .infra/env ] && grep -qE '^[A-Z_]+=' .infra/env; then
  echo "==> starting the apps (infra/local/down stops the servers afterwards)"
else
  echo "==> starting the apps"
fi
# exec, like the "start:distributed" script's `exec bash …`: node replaces this shell, so the
# SIGTERM npm forwards to its child reaches the launcher, which stops every app.
exec node packages/launcher/dist/cli.js --scale sse-gateway=2 --scale trainer-service=2 "$@"
