# `ensure_pnpm` puts the exact pnpm version pinned in package.json's "packageManager" on PATH
# (turbo looks it up there too). A fresh machine has Node 20 + npm only, and corepack's
# signature check fails for recent pnpm releases, so the pinned version is installed with npm
# (the registry's integrity hashes apply) into the Causeway cache, once.
CAUSEWAY_CACHE_DIR="${CAUSEWAY_CACHE_DIR:-$HOME/.cache/causeway}"
_pnpm_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

ensure_pnpm() {
  local version dir
  version="$(node -p "require('$_pnpm_root/package.json').packageManager.split('@')[1]")"
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$version" ]; then
    return
  fi
  dir="$CAUSEWAY_CACHE_DIR/pnpm-$version"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    echo "==> installing pnpm $version into $dir (first run only)" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "pnpm@$version" >&2
  fi
  export PATH="$dir/node_modules/.bin:$PATH"
}
