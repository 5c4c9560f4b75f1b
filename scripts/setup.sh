#!/usr/bin/env bash
# Installs what vmig's demo and test suite need: system packages (QEMU, OpenSSH server, iproute2, nftables,
# nasm for the test guest, tcpdump for the storage e2e's wire capture), the npm dependencies, the build and the
# test guest. Idempotent; needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (apt-get, network namespaces)" >&2
  exit 2
fi

packages=(qemu-system-x86 qemu-utils openssh-server openssh-client iproute2 nftables nasm procps openssl man-db groff-base bash-completion zsh fish stunnel4 tcpdump)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# sshd refuses to start without its privilege-separation directory.
mkdir -p /run/sshd

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi

# npm ci only when the lockfile changed since the last install (it wipes node_modules each time).
stamp=node_modules/.vmig-lock-sha
wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$wanted" > "$stamp"
fi
npm run build --silent
bash test/guest/build.sh
