# Helpers for scripts/: hardware-token test stacks (SoftHSM2 + OpenSC for
# PKCS#11; pcscd + vpcd + vicc for PC/SC). Sourced, not executed; needs deps.sh.
#
#   ensure_token_packages   installs softhsm2/opensc and the PC/SC stack
#   start_pcsc_stack        starts pcscd -f and a vicc card; exports UTRUST_TEST_PCSC=1
#   stop_pcsc_stack         stops what start_pcsc_stack started (by pid)
#
# SoftHSM is exported as UTRUST_TEST_PKCS11_MODULE when its module is present.

SOFTHSM2_MODULE_PATH=/usr/lib/softhsm/libsofthsm2.so
VICC_SITE=/usr/lib/python3/site-packages/virtualsmartcard
PCSC_STACK_DIR=""
_pcscd_pid=""
_vicc_pid=""

# ensure_token_packages: installs the packages; returns non-zero if apt fails.
ensure_token_packages() {
  ensure_debian_packages softhsm2 opensc || return 1
  ensure_debian_packages pcscd vsmartcard-vpcd python3-virtualsmartcard \
    python3-pycryptodome libpcsclite-dev pkg-config || return 1
  if [ -e "$SOFTHSM2_MODULE_PATH" ] && command -v softhsm2-util >/dev/null \
    && command -v pkcs11-tool >/dev/null; then
    export UTRUST_TEST_PKCS11_MODULE="$SOFTHSM2_MODULE_PATH"
  fi
}

# _pcsc_card_present: true when a reader reports the vicc card. Uses python3's
# ctypes on libpcsclite (no pcsc_scan needed); opensc-tool is a fallback.
_pcsc_card_present() {
  if command -v opensc-tool >/dev/null; then
    opensc-tool --list-readers 2>/dev/null | grep -q "Virtual PCD.*" || return 1
    opensc-tool --reader 0 --atr 2>/dev/null | grep -qi "3b:95:13:81:01:80:73:ff:01:00:0b"
  else
    return 1
  fi
}

# start_pcsc_stack: pcscd in the foreground (backgrounded here) with the vpcd
# reader config, and a vicc ISO 7816 card connected to it. Polls for the card
# up to 20 s. On success exports UTRUST_TEST_PCSC=1.
start_pcsc_stack() {
  command -v pcscd >/dev/null || { echo "pcscd not installed" >&2; return 1; }
  [ -d "$VICC_SITE/virtualsmartcard" ] || { echo "python3-virtualsmartcard missing" >&2; return 1; }
  PCSC_STACK_DIR=$(mktemp -d /tmp/utrust-pcsc.XXXXXX)
  local port=35963   # CHANNELID 0x8C7B of Debian's /etc/reader.conf.d/vpcd
  mkdir -p "$PCSC_STACK_DIR/reader.conf.d" "$PCSC_STACK_DIR/shim"
  cat >"$PCSC_STACK_DIR/reader.conf.d/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    0x8C7B
CONF
  # Debian ships pycryptodome as Cryptodome; vicc imports Crypto.
  ln -sfn /usr/lib/python3/dist-packages/Cryptodome "$PCSC_STACK_DIR/shim/Crypto"
  if pgrep -x pcscd >/dev/null; then
    echo "== pcscd already running: using it (one per host)"
  else
    mkdir -p /run/pcscd
    pcscd -f -c "$PCSC_STACK_DIR/reader.conf.d" >"$PCSC_STACK_DIR/pcscd.log" 2>&1 &
    _pcscd_pid=$!
  fi
  local i
  for i in $(seq 1 50); do
    [ -S /run/pcscd/pcscd.comm ] && break
    sleep 0.2
  done
  PYTHONPATH="$VICC_SITE:$PCSC_STACK_DIR/shim${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/python3 -c \
    "from virtualsmartcard.VirtualSmartcard import VirtualICC; VirtualICC(None, 'iso7816', 'localhost', $port).run()" \
    >"$PCSC_STACK_DIR/vicc.log" 2>&1 &
  _vicc_pid=$!
  for i in $(seq 1 100); do
    if _pcsc_card_present; then
      export UTRUST_TEST_PCSC=1
      echo "== PC/SC stack up: pcscd + vpcd + vicc (logs in $PCSC_STACK_DIR)"
      return 0
    fi
    kill -0 "$_vicc_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "PC/SC stack did not come up; pcscd log:" >&2
  cat "$PCSC_STACK_DIR/pcscd.log" "$PCSC_STACK_DIR/vicc.log" >&2 2>/dev/null || true
  stop_pcsc_stack
  return 1
}

# stop_pcsc_stack: stops vicc and the pcscd we started (never another one).
stop_pcsc_stack() {
  if [ -n "$_vicc_pid" ]; then kill "$_vicc_pid" 2>/dev/null || true; wait "$_vicc_pid" 2>/dev/null || true; fi
  if [ -n "$_pcscd_pid" ]; then kill "$_pcscd_pid" 2>/dev/null || true; wait "$_pcscd_pid" 2>/dev/null || true; fi
  _vicc_pid=""; _pcscd_pid=""
  unset UTRUST_TEST_PCSC
  if [ -n "$PCSC_STACK_DIR" ]; then rm -rf "$PCSC_STACK_DIR"; PCSC_STACK_DIR=""; fi
}
