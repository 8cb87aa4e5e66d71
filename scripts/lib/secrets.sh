# Secrets of the start commands: yours if exported, else generated once for this clone and kept
# in .infra/ (mode 600), so tools (the dead-letter CLI, the token command) can read them. Never
# printed.

# ensure_secret NAME FILE BYTES: exports NAME from the environment or from .infra/FILE.
ensure_secret() {
  local name="$1" file=".infra/$2" bytes="$3"
  if [ -n "${!name:-}" ]; then return; fi
  mkdir -p .infra
  if [ ! -s "$file" ]; then
    (umask 077 && node -e "process.stdout.write(require('crypto').randomBytes($bytes).toString('base64url'))" >"$file")
  fi
  export "$name=$(cat "$file")"
}

# The admin token of /admin/* endpoints (ADMIN_TOKEN).
ensure_admin_token() {
  local exported="${ADMIN_TOKEN:-}"
  ensure_secret ADMIN_TOKEN admin-token 24
  if [ -z "$exported" ]; then echo "==> admin token: in .infra/admin-token (export ADMIN_TOKEN to choose your own)"; fi
}

# The HS256 secret of the apps' tokens (JWT_SECRET).
ensure_jwt_secret() {
  ensure_secret JWT_SECRET jwt-secret 32
}
