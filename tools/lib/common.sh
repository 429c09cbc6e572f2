# Shared by tools/run and tools/test: install what is missing, configure, build.
# shellcheck shell=bash
set -euo pipefail

PATCHLENS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATCHLENS_ROOT
# ccache: paths relative to the checkout, so a fresh clone (as CI makes) reuses the cache.
export CCACHE_BASEDIR="$PATCHLENS_ROOT"
export CCACHE_NOHASHDIR=1

# Prints the packages of the given groups of tools/packages.txt.
patchlens_packages() {
  local group
  for group in "$@"; do
    sed -n "s/^${group}:[[:space:]]*//p" "$PATCHLENS_ROOT/tools/packages.txt"
  done | tr ' ' '\n' | sed '/^$/d' | sort -u
}

# Installs the missing packages of the given groups with apt-get (sudo when not root).
patchlens_install() {
  local missing=() pkg
  for pkg in $(patchlens_packages "$@"); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures and builds one preset (targets optional).
patchlens_build() {
  local preset="$1"
  shift
  cd "$PATCHLENS_ROOT"
  cmake --preset "$preset"
  cmake --build --preset "$preset" "$@"
}
