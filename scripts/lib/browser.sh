# shellcheck shell=bash
# `ensure_browser`: a Chromium for the browser tests (playwright-core drives it; Playwright's own
# browser download is not used). Uses CHROMIUM_PATH (refused when it names no executable), else
# `chromium` on PATH, else installs Debian's chromium package with apt. Exports CHROMIUM_PATH.
ensure_browser() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    # Yours, or nothing: another Chromium (or an apt install) in its place would go unnoticed.
    if [ -f "$CHROMIUM_PATH" ] && [ -x "$CHROMIUM_PATH" ]; then return; fi
    echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file: point it at a Chromium, or unset it to use chromium on PATH" >&2
    exit 1
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 ||
      { echo "chromium is not installed and apt-get is unavailable: install Chromium and export CHROMIUM_PATH" >&2; exit 1; }
    local sudo=()
    if [ "$(id -u)" != "0" ]; then
      command -v sudo >/dev/null 2>&1 ||
        { echo "chromium is not installed and we are not root: run apt-get install -y chromium as root" >&2; exit 1; }
      sudo=(sudo)
    fi
    echo "==> installing Debian's chromium for the browser tests (apt-get install -y chromium)…"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
  fi
  CHROMIUM_PATH="$(command -v chromium)"
  export CHROMIUM_PATH
  echo "==> browser: $CHROMIUM_PATH ($("$CHROMIUM_PATH" --version 2>/dev/null || echo 'version unknown'))"
}
