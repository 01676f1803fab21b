#!/usr/bin/env bash
# qemu-tty.sh [--build-dir DIR]: boot/qemu run from an interactive terminal (a pseudo-terminal
# that is the command's controlling terminal, as in xterm, tmux or pexpect), not from a pipe:
#   1. the default image with --timeout: the boot log and the prompt reach the terminal, a command
#      typed there is answered, the timeout ends it with status 124 (not a process stopped for
#      touching the terminal from a background process group), and the terminal's modes are
#      restored afterwards (echo and line editing on again);
#   2. a test image (keel-bench) with --timeout and --serial-log: its verdict is the status (0)
#      and the log file has the output.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=()
[ "${1:-}" = --build-dir ] && build_dir=(--build-dir "$2")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/keel-tty.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run_in_pty LIMIT INPUT_AFTER_REGEX INPUT COMMAND: runs COMMAND (bash) on a new pty, types INPUT
# once the output matches the regex, prints the output to $tmp/out and "status N" last.
run_in_pty() {
  python3 - "$@" <<'PY'
import os, pty, re, select, sys, time
limit, after, typed, command = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "-c", command])
out, deadline, sent = b"", time.monotonic() + limit, not typed
while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the last process holding the terminal is gone
            break
        if not chunk:
            break
        out += chunk
    if not sent and re.search(after.encode(), out):
        time.sleep(0.3)
        os.write(fd, typed.encode())
        sent = True
finished, status = 0, 0
while finished == 0 and time.monotonic() < deadline:  # the terminal closes just before the exit
    finished, status = os.waitpid(pid, os.WNOHANG)
    time.sleep(0.05)
if finished == 0:  # still there at the deadline: stopped or hung
    sys.stdout.buffer.write(out)
    print("\nstatus hung (no end within %gs)" % limit)
    os.killpg(pid, 9)
    os.waitpid(pid, 0)
    sys.exit(0)
sys.stdout.buffer.write(out)
print("\nstatus %d" % (os.waitstatus_to_exitcode(status)))
PY
}

fail=0
expect() { grep -aEq -- "$1" "$2" || { echo "FAIL: $3 lacks /$1/"; fail=1; }; }

# 1. The shell image: --timeout from a terminal. stty -a afterwards shows the restored modes.
run_in_pty 60 'keel> ' $'echo tty-typed\r' \
  "'$here/boot/qemu' ${build_dir[*]} --no-build --headless --timeout 8; echo \"qemu status \$?\"; stty -a" \
  | tr -d '\r' >"$tmp/shell"
expect '^Keel .+ booting' "$tmp/shell" "the terminal"
expect '^tty-typed$' "$tmp/shell" "the terminal (the shell's answer)"
expect '^qemu status 124$' "$tmp/shell" "the terminal (timeout status)"
expect '[^-]icanon' "$tmp/shell" "stty -a after the run"
expect '[^-]echo ' "$tmp/shell" "stty -a after the run"
expect '^status 0$' "$tmp/shell" "the pty's command"

# 2. A test image: its verdict is the status; --serial-log from a terminal too.
run_in_pty 90 '' '' \
  "'$here/boot/qemu' ${build_dir[*]} --no-build --headless --image keel-bench --timeout 60 --serial-log '$tmp/bench.log'" \
  | tr -d '\r' >"$tmp/bench"
expect '^KEEL-EXIT: pass' "$tmp/bench" "the terminal"
expect '^status 0$' "$tmp/bench" "the pty's command"
expect '^BENCH-DONE' "$tmp/bench.log" "the --serial-log file"

if [ "$fail" = 1 ]; then
  for f in shell bench; do echo "---- $f ----"; cat "$tmp/$f"; done
fi
exit $fail
