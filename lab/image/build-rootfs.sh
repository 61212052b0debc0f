#!/bin/sh
# Build the lab node root file system: Debian 12 minbase plus what a fresh server has.
# Usage: build-rootfs.sh ROOTFS_DIR PACKAGES_FILE [MIRROR]
# The Rust side hashes this script and the package list to name the image, so any change
# here rebuilds the image.
set -eu

rootfs=$1
packages_file=$2
mirror=${3:-http://deb.debian.org/debian}

include=$(grep -v '^#' "$packages_file" | grep -v '^$' | paste -sd, -)

debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror"

in_root() { chroot "$rootfs" /bin/sh -c "$1"; }

# A fresh server points at the distribution archive; nodes cannot reach it, which is the point:
# otp-provision's package mirror setting has to replace it.
cat > "$rootfs/etc/apt/sources.list" <<SRC
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC

# Non-root operator account: key-only login, passwordless sudo.
in_root 'useradd --create-home --shell /bin/bash --user-group otp && passwd -l otp'
cat > "$rootfs/etc/sudoers.d/otp" <<SUDO
otp ALL=(ALL:ALL) NOPASSWD:ALL
SUDO
chmod 0440 "$rootfs/etc/sudoers.d/otp"
install -d -m 0700 "$rootfs/home/otp/.ssh"
in_root 'chown otp:otp /home/otp/.ssh'

cat > "$rootfs/etc/ssh/sshd_config.d/10-otp-lab.conf" <<SSHD
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PubkeyAuthentication yes
UseDNS no
# 50 nodes are started at once on two cores; do not drop slow first logins.
LoginGraceTime 300
MaxStartups 100:30:200
SSHD

# Host keys are generated per node at first boot, so every node has its own identity.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$rootfs/etc/systemd/system/otp-lab-hostkeys.service" <<UNIT
[Unit]
Description=Generate this node's SSH host keys
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target ssh.service
UNIT
in_root 'systemctl enable otp-lab-hostkeys.service ssh.service'

# Each node gets its own machine-id at first boot (kubeadm and systemd expect unique ids).
: > "$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"

# Units that need hardware or a real console; in a container they only fail or wait.
for unit in getty@tty1.service serial-getty@console.service console-getty.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-remount-fs.service \
    systemd-firstboot.service systemd-modules-load.service sys-kernel-config.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount systemd-networkd-wait-online.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done

# Keep the image small: package lists and caches are refreshed by whoever installs packages.
in_root 'apt-get clean'
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
