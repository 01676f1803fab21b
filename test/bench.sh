#!/usr/bin/env bash
# test/bench.sh [--no-build] [--build-dir DIR] [--out FILE] [--cmdline ARGS] [--no-icount] [--smp N]
#
# Builds the release preset (build-release/), boots keel-bench.iso in QEMU with -icount
# shift=0 (every guest instruction advances the TSC by one, so the results are instruction counts
# and repeat exactly run to run), prints keelbench's table, and writes its `BENCH {json}` lines as
# one JSON array to build/bench.json.
#
# Benchmarks are measurements, not tests: this never fails on a number. It fails (non-zero) only
# when the image cannot be built or booted, or keelbench does not finish (no BENCH-DONE), or a
# benchmark reports an error instead of a result. Not part of ctest's default run; see
# docs/performance.md. --smp N boots N CPUs (default 1); the smp group needs at least 2.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=1 build_dir="$here/build-release" out="$here/build/bench.json" cmdline="" icount=(--icount) smp=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cmdline) cmdline=$2; shift 2 ;;      # e.g. "bench fastpath=off" or "bench bench=ipc"
    --no-icount) icount=(); shift ;;        # real time: TSC cycles, not repeatable
    --smp) smp=$2; shift 2 ;;               # CPUs; with -icount QEMU runs them one at a time
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test/bench.sh: unknown option '$1'" >&2; exit 64 ;;
  esac
done

if [ "$build" = 1 ]; then
  if [ "$build_dir" = "$here/build-release" ]; then
    (cd "$here" && cmake --preset release >/dev/null) || { echo "bench: configure failed" >&2; exit 3; }
  fi
  ninja -C "$build_dir" >&2 || { echo "bench: build failed" >&2; exit 3; }
fi

log=$(mktemp "${TMPDIR:-/tmp}/keel-bench.XXXXXX")
trap 'rm -f "$log"' EXIT
args=(--build-dir "$build_dir" --no-build --image keel-bench "${icount[@]}" --smp "$smp" --headless
      --serial-log "$log" --timeout 600)
[ -n "$cmdline" ] && args+=(--cmdline "$cmdline")
"$here/boot/qemu" "${args[@]}" >/dev/null </dev/null
status=$?
# The log has CR LF line ends (serial); keep what keelbench printed.
tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"

if ! grep -q '^BENCH-DONE' "$log"; then
  echo "bench: keelbench did not finish (boot/qemu status $status); the last lines:" >&2
  tail -n 20 "$log" >&2
  exit 2
fi
# The human table (everything from the header to the end, minus the JSON lines).
sed -n '/^keelbench: /p; /^keelbench results/,/^BENCH-DONE/p' "$log" | grep -v '^BENCH'

mkdir -p "$(dirname "$out")"
{
  echo "["
  grep '^BENCH {' "$log" | sed 's/^BENCH //' | sed '$!s/$/,/'
  echo "]"
} > "$out"
n=$(grep -c '^BENCH {' "$log")
echo "bench: $n results in $out"
# A result that needs more CPUs than the machine has says so instead of failing.
grep '^BENCH {.*"skipped"' "$log" | sed 's/^BENCH /bench: skipped: /'
if grep -q '^BENCH {.*"error"' "$log"; then
  echo "bench: some benchmarks failed to run:" >&2
  grep '^BENCH {.*"error"' "$log" >&2
  exit 1
fi
exit 0
