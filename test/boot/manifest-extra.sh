#!/usr/bin/env bash
# manifest-extra.sh [--build-dir DIR]: what a user does first, adding programs to the boot manifest,
# keeps the tests green. A copy of boot/manifest.txt gets three lines at the top (so every pid and
# channel number of the default manifest shifts): a second hello, and the tutorial's null driver
# with its client (which opens a channel before the shell does). shell-e2e.sh then runs on that
# manifest (boot/qemu --manifest), unchanged; the added programs must have run too.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keel-manifest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
{
  echo "# Lines a user added (test/boot/manifest-extra.sh)."
  echo "extra program=hello restart=never -- an added line"
  echo "null serves=null restart=always limit=3"
  echo "tutorial uses=null"
  cat "$here/boot/manifest.txt"
} >"$tmp/manifest.txt"
E2E_KEEP_LOG="$tmp/serial.log" "$here/test/boot/shell-e2e.sh" "$@" --manifest "$tmp/manifest.txt"
fail=$?
expect() { grep -aEq -- "$1" "$tmp/serial.log" || { echo "FAIL: serial output lacks /$1/"; fail=1; }; }
expect "^init: manifest 'manifest.txt': 8 process\\(es\\) to start, 0 bad line\\(s\\)"
expect "^hello: hello, world from 'extra' \\(pid 1,"
expect "^init: channel 0: tutorial \\(pid 3\\) -> null \\(pid 2\\)"
expect "^tutorial: restarted driver answers"
[ "$fail" = 0 ] || { echo "---- the manifest ----"; cat "$tmp/manifest.txt"; }
exit $fail
