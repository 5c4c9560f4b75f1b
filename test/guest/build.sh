#!/usr/bin/env bash
# Build the vmig self-checking test guest: test/guest/build/guest.bin
# Idempotent: does nothing if the binary is newer than its sources.
# Usage: build.sh [--force]      (env NASM=/path/to/nasm to override)
set -euo pipefail

self="${BASH_SOURCE[0]}"
[[ "$self" == */* ]] && here="${self%/*}" || here="."
here="$(cd -- "$here" && pwd)"
src="$here/guest.asm"
out_dir="$here/build"
out="$out_dir/guest.bin"
nasm="${NASM:-nasm}"

force=0
case "${1:-}" in
  -f|--force) force=1 ;;
  "") ;;
  *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

if [[ ! -f "$src" ]]; then
  echo "build.sh: error: source not found: $src" >&2
  exit 1
fi

if [[ $force -eq 0 && -f "$out" && "$out" -nt "$src" && "$out" -nt "$here/build.sh" ]]; then
  echo "guest: up to date: $out"
  exit 0
fi

if ! command -v "$nasm" >/dev/null 2>&1; then
  echo "build.sh: error: '$nasm' not found; install nasm (e.g. 'apt-get install nasm') or set NASM=/path/to/nasm" >&2
  exit 1
fi

mkdir -p "$out_dir"
tmp="$(mktemp "$out_dir/.guest.bin.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
"$nasm" -f bin -w+all -o "$tmp" "$src"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
echo "guest: built $out ($(wc -c <"$out") bytes)"
