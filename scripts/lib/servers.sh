# `ensure_servers`: makes REDIS_URL, KAFKA_BROKERS and MONGODB_URI point at real servers.
# Whatever the caller exported wins; the rest come from infra/local/up. Servers started here are
# stopped when the calling script exits, unless CAUSEWAY_KEEP_SERVERS=1.
ensure_servers() {
  local needed=() server key value
  [ -n "${REDIS_URL:-}" ] || needed+=(redis)
  [ -n "${KAFKA_BROKERS:-}" ] || needed+=(kafka)
  [ -n "${MONGODB_URI:-}" ] || needed+=(mongodb)
  STARTED_SERVERS=()
  if [ ${#needed[@]} -gt 0 ]; then
    for server in "${needed[@]}"; do
      infra/local/status "$server" >/dev/null 2>&1 || STARTED_SERVERS+=("$server")
    done
    # Before the start: one that fails part-way (a server not ready, Ctrl-C) stops the ones
    # already started too.
    if [ ${#STARTED_SERVERS[@]} -gt 0 ] && [ "${CAUSEWAY_KEEP_SERVERS:-0}" != "1" ]; then
      trap 'echo "==> infra/local/down ${STARTED_SERVERS[*]}"; infra/local/down "${STARTED_SERVERS[@]}"' EXIT
    fi
    echo "==> infra/local/up ${needed[*]}"
    infra/local/up "${needed[@]}"
    while IFS='=' read -r key value; do
      case "$key" in REDIS_URL | KAFKA_BROKERS | MONGODB_URI) [ -n "${!key:-}" ] || export "$key=$value" ;; esac
    done < <(grep -E '^[A-Z_]+=' .infra/env)
  fi
  echo "==> servers: REDIS_URL=$(without_credentials "$REDIS_URL") KAFKA_BROKERS=$(without_credentials "$KAFKA_BROKERS") MONGODB_URI=$(without_credentials "$MONGODB_URI")"
}

# `without_credentials URL`: the URL without its `user:password@` (scheme, host:port, path kept),
# for printing. Every `scheme://...@` of a list is stripped; the last `@` before the host wins.
without_credentials() {
  printf '%s' "$1" | sed -E 's#(://)[^/?\#]*@#\1#g'
}

# `install_dependencies`: pnpm install exactly as locked.
install_dependencies() {
  echo "==> pnpm install"
  # pnpm's exit status decides (pipefail), not grep's (1 when it has no line left to print); an
  # earlier install's node_modules must not hide a failed one.
  pnpm install --frozen-lockfile --reporter=append-only 2>&1 | { grep -vE '^(Progress|Packages:)' || true; } ||
    { echo "pnpm install failed (see above)" >&2; exit 1; }
  [ -d node_modules/.pnpm ] || { echo "pnpm install failed" >&2; exit 1; }
}
