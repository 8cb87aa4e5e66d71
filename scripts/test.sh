#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs dependencies, brings up real Redis, Kafka
# and a MongoDB-wire server (infra/local/up; skipped for any server whose URL you exported),
# then builds, lints, type-checks and runs unit and integration tests through turbo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/pnpm.sh
ensure_pnpm

echo "==> pnpm install"
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | grep -vE '^(Progress|Packages:)' || true
[ -d node_modules/.pnpm ] || { echo "pnpm install failed" >&2; exit 1; }

# Servers: whatever the caller exported wins; the rest come from the local launcher.
needed=()
[ -n "${REDIS_URL:-}" ] || needed+=(redis)
[ -n "${KAFKA_BROKERS:-}" ] || needed+=(kafka)
[ -n "${MONGODB_URI:-}" ] || needed+=(mongodb)
started_here=()
if [ ${#needed[@]} -gt 0 ]; then
  for server in "${needed[@]}"; do
    infra/local/status "$server" >/dev/null 2>&1 || started_here+=("$server")
  done
  echo "==> infra/local/up ${needed[*]}"
  infra/local/up "${needed[@]}"
  while IFS='=' read -r key value; do
    case "$key" in REDIS_URL | KAFKA_BROKERS | MONGODB_URI) [ -n "${!key:-}" ] || export "$key=$value" ;; esac
  done < <(grep -E '^[A-Z_]+=' .infra/env)
fi
# Servers this run started are stopped when it ends (set CAUSEWAY_KEEP_SERVERS=1 to keep them).
if [ ${#started_here[@]} -gt 0 ] && [ "${CAUSEWAY_KEEP_SERVERS:-0}" != "1" ]; then
  trap 'echo "==> infra/local/down ${started_here[*]}"; infra/local/down "${started_here[@]}"' EXIT
fi
echo "==> servers: REDIS_URL=$REDIS_URL KAFKA_BROKERS=$KAFKA_BROKERS MONGODB_URI=$MONGODB_URI"

echo "==> prettier --check"
pnpm exec prettier --check . --log-level warn
echo "==> turbo: build, lint, typecheck, unit tests"
pnpm exec turbo run build lint typecheck test --concurrency=2 --output-logs=new-only "$@"
echo "==> turbo: integration tests against the real servers"
pnpm exec turbo run test:int --concurrency=1 --output-logs=full "$@"
