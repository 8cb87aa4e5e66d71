#!/usr/bin/env bash
# Starts the Causeway reference system from a fresh clone: installs dependencies, builds,
# brings up real Redis, Kafka and a MongoDB-wire server (infra/local/up; skipped for any server
# whose URL you exported), then runs the five apps and waits until each is ready.
# Extra arguments go to the launcher, e.g. `npm start -- --scale sse-gateway=2`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/pnpm.sh
ensure_pnpm

echo "==> pnpm install"
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|Packages:)' || true
[ -d node_modules/.pnpm ] || { echo "pnpm install failed" >&2; exit 1; }
echo "==> build"
pnpm exec turbo run build --filter=@causeway/launcher... --output-logs=errors-only

needed=()
[ -n "${REDIS_URL:-}" ] || needed+=(redis)
[ -n "${KAFKA_BROKERS:-}" ] || needed+=(kafka)
[ -n "${MONGODB_URI:-}" ] || needed+=(mongodb)
if [ ${#needed[@]} -gt 0 ]; then
  echo "==> infra/local/up ${needed[*]}"
  infra/local/up "${needed[@]}"
  while IFS='=' read -r key value; do
    case "$key" in REDIS_URL | KAFKA_BROKERS | MONGODB_URI) [ -n "${!key:-}" ] || export "$key=$value" ;; esac
  done < <(grep -E '^[A-Z_]+=' .infra/env)
fi

# The admin token of /admin/* endpoints: yours if exported, else one generated for this clone
# and kept in .infra/admin-token (mode 600). It is never printed.
if [ -z "${ADMIN_TOKEN:-}" ]; then
  mkdir -p .infra
  if [ ! -s .infra/admin-token ]; then
    (umask 077 && node -e "process.stdout.write(require('crypto').randomBytes(24).toString('base64url'))" >.infra/admin-token)
  fi
  ADMIN_TOKEN="$(cat .infra/admin-token)"
  export ADMIN_TOKEN
  echo "==> admin token: in .infra/admin-token (export ADMIN_TOKEN to choose your own)"
fi

echo "==> starting the apps (infra/local/down stops the servers afterwards)"
exec node packages/launcher/dist/cli.js "$@"
