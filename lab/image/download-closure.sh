#!/bin/sh
# Download PACKAGES and every dependency the node image lacks, as apt inside the image would.
# Usage: download-closure.sh ROOTFS OUTDIR PACKAGE...
# ROOTFS is a scratch copy of the node image's root file system (it gets apt lists written to it).
set -eu

rootfs=$1
out=$2
shift 2

mkdir -p "$out" "$rootfs/var/cache/otp-lab-debs"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"

mounted=""
cleanup() {
    for m in $mounted; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

mkdir -p "$rootfs/proc" "$rootfs/dev"
mount -t proc proc "$rootfs/proc" && mounted="$rootfs/proc $mounted"
mount --bind /dev "$rootfs/dev" && mounted="$rootfs/dev $mounted"
mount --bind "$out" "$rootfs/var/cache/otp-lab-debs" && mounted="$rootfs/var/cache/otp-lab-debs $mounted"

chroot "$rootfs" apt-get -q update
# Recommends included: apt-get install on a node pulls them by default, as on a real server.
# --download-only resolves against what the image already has.
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
    -o Dir::Cache::archives=/var/cache/otp-lab-debs \
    --download-only install "$@"
rm -rf "$out/partial" "$out/lock"
