#!/usr/bin/env bash
# check-boot.sh [--build-dir DIR] [--status N] [--until REGEX] [--expect REGEX]... [--reject REGEX]...
#               -- BOOT/QEMU ARGS
# Boots an image of build directory DIR (default: boot/qemu's, build/) through boot/qemu, then
# checks the exit status and the serial log. --until ends the boot as soon as the serial log
# matches REGEX (every REGEX, when given several times), with status 0 (a boot that keeps running,
# like the shell image, need not wait for its --timeout); if it ends by itself first, its own
# status counts.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
want_status=0 expects=() rejects=() build_dir=() untils=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=(--build-dir "$2"); shift 2 ;;
    --status) want_status=$2; shift 2 ;;
    --expect) expects+=("$2"); shift 2 ;;
    --reject) rejects+=("$2"); shift 2 ;;
    --until) untils+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "check-boot: unknown option $1" >&2; exit 64 ;;
  esac
done
log=$(mktemp "${TMPDIR:-/tmp}/keel-serial.XXXXXX")
trap 'rm -f "$log"' EXIT
# every --until pattern in the log so far
reached_all() {
  local re
  for re in "${untils[@]}"; do tr -d '\r' <"$log" | grep -aEq -- "$re" || return 1; done
}
if [ "${#untils[@]}" = 0 ]; then
  "$here/boot/qemu" "${build_dir[@]}" --no-build --headless --serial-log "$log" "$@" </dev/null >/dev/null 2>"$log.err"
  status=$?
else
  # A session of its own, so that ending it reaches the emulator too (boot/qemu cleans up on TERM).
  : >"$log"
  setsid "$here/boot/qemu" "${build_dir[@]}" --no-build --headless --serial-log "$log" "$@" </dev/null \
    >/dev/null 2>"$log.err" &
  pid=$! reached=0
  while kill -0 "$pid" 2>/dev/null; do
    if reached_all; then
      reached=1
      kill -TERM -- "-$pid" 2>/dev/null
      break
    fi
    sleep 0.2
  done
  wait "$pid"
  status=$?
  [ "$reached" = 1 ] && status=0
fi
fail=0
if [ "$status" != "$want_status" ]; then
  echo "FAIL: boot/qemu $* exited $status, expected $want_status"
  fail=1
fi
for re in "${expects[@]}"; do
  grep -aEq -- "$re" "$log" || { echo "FAIL: serial output lacks /$re/"; fail=1; }
done
for re in "${rejects[@]}"; do
  if grep -aEq -- "$re" "$log"; then echo "FAIL: serial output has /$re/"; fail=1; fi
done
if [ "$fail" = 1 ]; then
  echo "---- serial output ----"; tr -d '\r' < "$log"
  echo "---- boot/qemu stderr ----"; cat "$log.err"
fi
rm -f "$log.err"
exit $fail
