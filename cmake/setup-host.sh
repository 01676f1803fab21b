#!/usr/bin/env bash
# Installs what building, booting and testing Keel needs on Debian or Ubuntu, if anything is
# missing. Idempotent, and quiet when everything is already there.
set -euo pipefail
packages=(cmake ninja-build clang lld llvm qemu-system-x86 grub-common grub-pc-bin grub-efi-amd64-bin
          xorriso mtools ovmf bochs bochsbios vgabios git gdb)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
updated=0
install() {
  if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
    echo "setup: need root (or sudo) to install: $*" >&2
    exit 1
  fi
  echo "setup: installing $*" >&2
  [ "$updated" = 1 ] || { $sudo apt-get update -qq; updated=1; }
  $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || install "${missing[@]}"

# The host tests need clang's sanitizer runtime and the host fuzzers its libFuzzer runtime: both
# in their own package on Debian 12 (libclang-rt-14-dev), inside clang's packages on some other
# releases.
clang_rt_missing() {
  local lib path
  for lib in asan fuzzer; do
    path=$(clang -print-file-name=libclang_rt.$lib-x86_64.a 2>/dev/null || true)
    [ -f "$path" ] || { echo "$lib"; return 0; }
  done
  return 1
}
if clang_rt_missing >/dev/null; then
  ver=$(clang -dumpversion | cut -d. -f1)
  [ "$updated" = 1 ] || { $sudo apt-get update -qq; updated=1; }
  for p in "libclang-rt-$ver-dev" libclang-rt-dev; do
    if apt-cache show "$p" >/dev/null 2>&1; then install "$p"; break; fi
  done
  if lib=$(clang_rt_missing); then
    echo "setup: clang $ver has no libclang_rt.$lib-x86_64.a (host tests and fuzzers need it)" >&2
    exit 1
  fi
fi
