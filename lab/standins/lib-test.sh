# Helpers for test.sh: containers on our own network, never touching the lab's otp-lab* ones.
NET=${STANDINS_NET:-otp-standins-test}
SUBNET=${STANDINS_SUBNET:-172.31.77.0/24}
PREFIX=${STANDINS_PREFIX:-172.31.77}
IMAGE=${STANDINS_IMAGE:-otp-standins-test}

cap_drops() {
  python3 - <<'PY'
names='CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ'.split()
b=int([l for l in open('/proc/self/status') if l.startswith('CapBnd')][0].split()[1],16)
print(' '.join('--cap-drop='+n for i,n in enumerate(names) if not b>>i&1))
PY
}

# start_node NAME IPSUFFIX DEBDIR
start_node() {
  docker run -d --name "otp-standins-$1" --hostname "$1" --network "$NET" --ip "$PREFIX.$2" \
    --cap-add=ALL $(cap_drops) --security-opt=seccomp=unconfined --security-opt=apparmor=unconfined \
    --security-opt=systempaths=unconfined --cgroupns=private --stop-signal=SIGRTMIN+3 \
    --tmpfs=/run --tmpfs=/run/lock --tmpfs=/tmp --volume=/var/lib/containerd \
    -v "$3:/debs:ro" "$IMAGE" /sbin/init >/dev/null
}

on() { _node=$1; shift; docker exec "otp-standins-$_node" sh -c "$*"; }
put() { docker exec -i "otp-standins-$1" sh -c "cat > '$2'"; }

wait_boot() {
  for _ in $(seq 1 60); do
    s=$(on "$1" 'systemctl is-system-running' 2>/dev/null || true)
    case "$s" in running|degraded) return 0 ;; esac
    sleep 1
  done
  echo "node $1 did not boot: $s" >&2; return 1
}

# prepare_node NODE: what otp-provision's node preparation does before kubeadm: packages,
# ip_forward, containerd with the systemd cgroup driver, kubelet enabled
prepare_node() {
  on "$1" 'dpkg -i /debs/*.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
           sysctl -qw net.ipv4.ip_forward=1
           containerd config default | sed "s/SystemdCgroup = false/SystemdCgroup = true/" > /etc/containerd/config.toml
           systemctl restart containerd
           systemctl enable --now kubelet >/dev/null 2>&1'
}

# build_image: a Debian 12 image with systemd and every package the stand-ins depend on
# (DEPENDS), so the test can dpkg -i the stand-in debs without a package repository.
build_image() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  command -v debootstrap >/dev/null || { echo "test.sh: debootstrap is needed to build $IMAGE (apt-get install debootstrap)" >&2; return 1; }
  # The scripts cd into their own directory first: $0's dirname is relative to where they
  # started, not to here.
  deps=${HERE:?}/DEPENDS
  [ -r "$deps" ] || { echo "test.sh: $deps missing" >&2; return 1; }
  root=$(mktemp -d /var/tmp/standins-rootfs.XXXXXX)
  pkgs="systemd,systemd-sysv,dbus,procps,ca-certificates,$(grep -v '^#' "$deps" | paste -sd, -)"
  debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
  chroot "$root" apt-get clean
  tar -C "$root" -c . | docker import -c 'CMD ["/sbin/init"]' - "$IMAGE" >/dev/null
  rm -rf "$root"
}

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

# expect_fail NODE DESCRIPTION PATTERN COMMAND: COMMAND must exit non-zero and print PATTERN
expect_fail() {
  _n=$1; d=$2; pat=$3; shift 3
  set +e
  outp=$(on "$_n" "$*" 2>&1); rc=$?
  set -e
  if [ $rc -ne 0 ] && printf '%s' "$outp" | grep -qF -- "$pat"; then
    ok "$d (exit $rc)"
  else
    not_ok "$d: exit $rc, wanted non-zero and '$pat'; got:"; printf '%s\n' "$outp" | tail -5 | sed 's/^/    /'
  fi
}

# expect_ok NODE DESCRIPTION PATTERN COMMAND: COMMAND must exit 0 and print PATTERN
expect_ok() {
  _n=$1; d=$2; pat=$3; shift 3
  set +e
  outp=$(on "$_n" "$*" 2>&1); rc=$?
  set -e
  if [ $rc -eq 0 ] && printf '%s' "$outp" | grep -qE -- "$pat"; then
    ok "$d"
  else
    not_ok "$d: exit $rc, wanted 0 and /$pat/; got:"; printf '%s\n' "$outp" | tail -8 | sed 's/^/    /'
  fi
}
