#!/usr/bin/env bash
# Makes the base image of deploy/container/Containerfile from Debian's packages, for machines that reach no container
# registry: debootstrap (minbase, plus CA certificates and libssl) from the Debian mirror apt already uses, imported
# with podman. Idempotent: an existing image is kept unless --force. Elsewhere, build with a registry base instead
# (see README.md, "Container image").
#   deploy/container/build-base.sh [--force] [IMAGE]      (default IMAGE: localhost/debian-min:bookworm-slim)
set -euo pipefail
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
image="${1:-localhost/debian-min:bookworm-slim}"
suite="${DEBIAN_SUITE:-bookworm}"
if [ "$force" = 0 ] && podman image exists "$image"; then
  echo "build-base: $image exists (use --force to rebuild)" >&2
  exit 0
fi
# The mirror apt is set up with, read at run time (never written into the repository): the first URIs: line of a
# deb822 source that is not the security archive, else the first 'deb' line of sources.list.
mirror="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
if [ -z "$mirror" ]; then
  mirror="$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)"
fi
if [ -z "$mirror" ]; then
  echo "build-base: no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
  exit 1
fi
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "build-base: $tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
rootfs="$(mktemp -d /tmp/dataspoc-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "build-base: debootstrap $suite (minbase + ca-certificates, libssl3) ..." >&2
debootstrap --variant=minbase --include=ca-certificates,libssl3 "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
# Package caches, lists, docs and the mirror's address stay out of the image.
tar -C "$rootfs" \
  --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/cache/apt/*.bin' --exclude='./var/lib/apt/lists/*' \
  --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/locale/*' --exclude='./usr/share/info/*' \
  --exclude='./etc/apt/sources.list' -c . | podman import --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "build-base: made $image" >&2
