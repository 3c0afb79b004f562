#!/usr/bin/env bash
# Prints the path of a FUSE 2 `fusermount` (libfuse 2.9), setuid root, unpacked from Debian's `fuse`
# package into a cache folder (default /tmp/lighthouse-fusermount2). Debian's `fuse` conflicts with
# `fuse3`, so it is not installed: only its helper binary is extracted and used from the cache.
# Needs root (chown root + chmod u+s) and apt. Exits non-zero with a message on stderr on failure.
set -euo pipefail

cache="${LIGHTHOUSE_FUSERMOUNT2_CACHE:-/tmp/lighthouse-fusermount2}"
bin="$cache/root/bin/fusermount"

fail() { echo "fetch-fusermount2: $*" >&2; exit 1; }

finish() {
  chown root:root "$bin" || fail "cannot chown root $bin (run as root)"
  chmod 4755 "$bin" || fail "cannot chmod u+s $bin"
  # Every folder from the cache down to the binary must be searchable by the non-root test user.
  local d
  d="$(dirname "$bin")"
  while [[ "$d" == "$cache"* ]]; do chmod o+rx "$d" || true; d="$(dirname "$d")"; done
  echo "$bin"
  exit 0
}

if [[ -x "$bin" ]] && "$bin" -V 2>&1 | grep -q 'version: 2\.'; then
  finish
fi

command -v apt-get >/dev/null || fail "apt-get not found: cannot download Debian's fuse package"
command -v dpkg-deb >/dev/null || fail "dpkg-deb not found: cannot unpack Debian's fuse package"
[[ "$(id -u)" == 0 ]] || fail "must run as root (the extracted fusermount has to be setuid root)"

mkdir -p "$cache/download"
cd "$cache/download"
rm -f fuse_*.deb
# apt-get download runs as _apt where it can; a folder it cannot write just makes it warn.
if ! apt-get download fuse >download.log 2>&1; then
  echo "fetch-fusermount2: 'apt-get download fuse' failed, running apt-get update and retrying" >&2
  apt-get update >>download.log 2>&1 || true
  apt-get download fuse >>download.log 2>&1 \
    || fail "cannot download Debian's fuse package (apt-get download fuse): $(tail -n 5 download.log | tr '\n' ' ')"
fi
deb="$(ls -1 fuse_*.deb 2>/dev/null | head -n 1)"
[[ -n "$deb" ]] || fail "apt-get download fuse produced no fuse_*.deb"

rm -rf "$cache/root"
dpkg-deb -x "$deb" "$cache/root" || fail "dpkg-deb -x $deb failed"
[[ -f "$bin" ]] || fail "$deb has no bin/fusermount"
"$bin" -V 2>&1 | grep -q 'version: 2\.' || fail "$bin is not a FUSE 2 fusermount: $("$bin" -V 2>&1)"
finish
