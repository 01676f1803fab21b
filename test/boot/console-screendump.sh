#!/usr/bin/env bash
# console-screendump.sh [--uefi] [--build-dir DIR]: the shell's output on the screen. Boots the
# keel image (SeaBIOS: VGA text mode; --uefi: OVMF's framebuffer) with a QEMU monitor socket,
# types `echo hello` on the emulated PS/2 keyboard (sendkey, as a user in QEMU's window does) and
# `echo from serial 42` on the serial console, then takes a monitor screendump and checks the
# pixels:
#  - framebuffer: the expected lines ("keel> echo hello", "hello", ...) rendered with Keel's font
#    (parsed from kernel/core/font8x16.c) must appear pixel for pixel, in order, on consecutive
#    text rows, in the console's colours;
#  - text mode: QEMU draws the cells with the VGA card's own font, so the characters are read
#    from the text buffer (monitor `xp` of 0xb8000) and the pixels are checked against them:
#    the expected lines are in the buffer in order, every cell holding a character shows
#    foreground pixels, blank cells none, and equal characters look identical everywhere (so
#    "hello" on screen is the same glyphs as in "keel> echo hello").
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir="$here/build" uefi=()
while [ $# -gt 0 ]; do
  case "$1" in
    --uefi) uefi=(--uefi); shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    *) echo "usage: $0 [--uefi] [--build-dir DIR]" >&2; exit 2 ;;
  esac
done
log=$(mktemp "${TMPDIR:-/tmp}/keel-con.XXXXXX")
mon="$log.mon" shot="$log.ppm" cells="$log.cells"
trap 'rm -f "$log" "$log.err" "$mon" "$shot" "$cells"' EXIT
: >"$log"
# shellcheck source=test/boot/e2e-lib.sh
. "$here/test/boot/e2e-lib.sh"

# ask CMD OUT: one monitor command, its answer (the text before the next prompt) into OUT.
ask() {
  python3 - "$mon" "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
def until_prompt():
    buf = b""
    while not buf.rstrip().endswith(b"(qemu)"):
        buf += s.recv(65536)
    return buf
until_prompt()
s.sendall((sys.argv[2] + "\n").encode())
open(sys.argv[3], "wb").write(until_prompt())
PY
}

feed() {
  wait_for 'keel> ' 50 || return
  wait_for 'ps2kbd: client pid [0-9]+ connected' 10 || return
  wait_for 'console: client pid [0-9]+ connected' 10 || return
  sleep 0.3
  type_keyboard 'echo hello'
  type_serial 'echo from serial 42'
  sleep 0.5
  ask "screendump $shot" /dev/null
  for _ in $(seq 1 40); do # the file is written asynchronously
    [ -s "$shot" ] && break
    sleep 0.25
  done
  sleep 0.5
  [ ${#uefi[@]} -eq 0 ] && ask "xp /4000xb 0xb8000" "$cells"
  monitor quit
  sleep 2
}

feed | "$here/boot/qemu" --no-build --build-dir "$build_dir" --headless --serial-log "$log" --image keel \
  "${uefi[@]}" --timeout 55 -- -monitor "unix:$mon,server,nowait" >/dev/null 2>"$log.err"
check '^hello$'
check '^from serial 42$'
verdict=$(python3 - "$shot" "$here/kernel/core/font8x16.c" "$cells" <<'PY'
import re, sys
shot, fontfile, cellfile = sys.argv[1:4]
want = ["keel> echo hello", "hello", "keel> echo from serial 42", "from serial 42", "keel> "]
try:
    data = open(shot, "rb").read()
except OSError:
    sys.exit(print("no screendump"))
m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
if not m:
    sys.exit(print("the screendump is not a P6 PPM"))
w, h = int(m.group(1)), int(m.group(2))
px = data[m.end():]
def pixel(x, y):
    return px[(y * w + x) * 3:(y * w + x) * 3 + 3]

if w == 720 and h == 400:  # VGA text mode: 80x25 cells of 9x16 pixels
    try:
        dump = open(cellfile).read()
    except OSError:
        sys.exit(print("no text buffer dump"))
    mem = [int(b, 16) for line in re.findall(r"^[0-9a-f]{8,}: (.*)$", dump.replace("\r", ""), flags=re.M)
           for b in re.findall(r"0x([0-9a-f]{2})\b", line)]
    if len(mem) < 4000:
        sys.exit(print(f"text buffer dump has {len(mem)} bytes"))
    rows = ["".join(chr(mem[(r * 80 + c) * 2]) for c in range(80)) for r in range(25)]
    text = [r.rstrip() for r in rows]
    at = next((i for i in range(25 - len(want) + 1) if text[i:i + len(want)] == [l.rstrip() for l in want]), None)
    if at is None:
        sys.exit(print("the lines are not in the text buffer; it holds: " + " | ".join(t for t in text if t)))
    def cell(r, c):
        return b"".join(px[((r * 16 + y) * w + c * 9) * 3:((r * 16 + y) * w + c * 9 + 9) * 3] for y in range(16))
    bg = pixel(719, 399)
    glyphs, lit = {}, 0
    cursor = (at + len(want) - 1, len(want[-1]))
    for r in range(at, at + len(want)):
        for c in range(80):
            if (r, c) == cursor:
                continue
            ch, cl = rows[r][c], cell(r, c)
            blank = all(cl[i:i + 3] == bg for i in range(0, len(cl), 3))
            if ch == " " and not blank:
                sys.exit(print(f"cell {r},{c} should be blank but has pixels"))
            if ch != " ":
                if blank:
                    sys.exit(print(f"cell {r},{c} ('{ch}') shows nothing"))
                lit += 1
                if glyphs.setdefault(ch, cl) != cl:
                    sys.exit(print(f"cell {r},{c} ('{ch}') looks unlike another '{ch}'"))
    print(f"ok: text mode, rows {at}-{at + len(want) - 1} hold the lines; {lit} cells checked, {len(glyphs)} glyphs consistent")
else:  # a framebuffer drawn with Keel's font, 8x16 cells
    font = {}
    for m in re.finditer(r"\{([^{}]*)\},\s*/\* ([0-9a-f]{2}) ", open(fontfile).read()):
        font[int(m.group(2), 16)] = [int(v, 16) for v in m.group(1).split(",")]
    fg, bg = b"\xc0\xc0\xc0", b"\x00\x00\x00"
    def matches(line, row):
        for c, ch in enumerate(line.ljust(len(line) + 1)):  # and a blank cell after it
            for y in range(16):
                bits = font[ord(ch)][y]
                for x in range(8):
                    if pixel(c * 8 + x, row * 16 + y) != (fg if bits & (0x80 >> x) else bg):
                        return False
        return True
    rows = h // 16
    at = next((r for r in range(rows - len(want) + 1)
               if all(matches(l, r + i) for i, l in enumerate(want[:-1]))), None)
    if at is None:
        sys.exit(print(f"the lines are not on the {w}x{h} screen in Keel's font"))
    print(f"ok: framebuffer {w}x{h}, text rows {at}-{at + len(want) - 2} match the font pixel for pixel")
PY
)
case "$verdict" in
  ok:*) echo "$verdict" ;;
  *) echo "FAIL: $verdict"; fail=1 ;;
esac
report
