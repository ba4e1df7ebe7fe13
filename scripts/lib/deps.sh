# Helpers for scripts/: install missing system dependencies.
# Sourced, not executed.

_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

_apt_updated=0
# ensure_debian_packages PKG...: installs the Debian packages that are missing.
ensure_debian_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing Debian packages: ${missing[*]}"
  if [ $_apt_updated -eq 0 ]; then
    _sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  _sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_python_module MODULE PIP_NAME: makes `python3 -c "import MODULE"` work.
ensure_python_module() {
  local module=$1 pip_name=$2
  python3 -c "import $module" 2>/dev/null && return 0
  echo "== installing Python package $pip_name"
  python3 -m pip install --quiet "$pip_name" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages "$pip_name" 2>/dev/null \
    || ensure_debian_packages "python3-$pip_name"
  python3 -c "import $module"
}
