#!/bin/sh
# Build the lab's Kubernetes stand-in packages (kubeadm, kubelet, kubectl, cri-tools,
# kubernetes-cni) for one Kubernetes version, named like pkgs.k8s.io does.
# Usage: build-debs.sh OUTDIR K8S_VERSION      e.g. build-debs.sh /tmp/repo 1.33.4
# These packages exist only for the test lab; they are never part of the product.
set -eu
OUT=${1:?usage: build-debs.sh OUTDIR K8S_VERSION}
VER=${2:?usage: build-debs.sh OUTDIR K8S_VERSION}
VER=${VER#v}
case "$VER" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "build-debs.sh: K8S_VERSION must look like 1.33.4, got '$VER'" >&2; exit 2 ;;
esac
MINOR=$(echo "$VER" | cut -d. -f2)
HERE=$(cd "$(dirname "$0")" && pwd)
SRC="$HERE/src"
REV=1.1
CRI_VER="1.$MINOR.0"
CNI_VER="1.6.0"
[ "$MINOR" -lt 33 ] && CNI_VER="1.5.1"
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# pkg NAME VERSION DEPENDS DESCRIPTION -> staging dir in $WORK/NAME
stage() {
  d="$WORK/$1"
  mkdir -p "$d/DEBIAN"
  cat > "$d/DEBIAN/control" <<CTL
Package: $1
Version: $2
Architecture: amd64
Maintainer: otp-provision lab <lab@otp-provision.invalid>
Installed-Size: 200
Depends: $3
Section: misc
Priority: optional
Homepage: https://kubernetes.io
Description: $4
 Lab stand-in built by otp-provision's lab/standins/build-debs.sh. Not Kubernetes.
CTL
}

# lib NAME: copy the python sources to the package's private dir and stamp the version
lib() {
  d="$WORK/$1/usr/lib/k8s-standins/$1"
  mkdir -p "$d"
  cp "$SRC"/*.py "$d/"
  sed -i "s/^K8S_VERSION = .*/K8S_VERSION = \"v$VER\"/" "$d/k8scommon.py"
  # syntax check when a python3 is at hand (the packages themselves need the node's python3)
  if command -v python3 >/dev/null 2>&1; then
    python3 -m py_compile "$d"/*.py
    rm -rf "$d/__pycache__"
  fi
}

wrapper() {  # wrapper PKG BIN SCRIPT [ARG]
  mkdir -p "$WORK/$1/usr/bin"
  printf '#!/bin/sh\nexec /usr/bin/python3 /usr/lib/k8s-standins/%s/%s %s"$@"\n' "$1" "$3" "${4:+$4 }" > "$WORK/$1/usr/bin/$2"
  chmod 755 "$WORK/$1/usr/bin/$2"
}

PYDEPS="python3 (>= 3.11), python3-yaml, openssl"

stage kubeadm "$VER-$REV" "cri-tools (>= 1.30.0), $PYDEPS" "Command-line utility for administering a Kubernetes cluster (lab stand-in)"
lib kubeadm
wrapper kubeadm kubeadm kubeadm.py
mkdir -p "$WORK/kubeadm/usr/lib/systemd/system/kubelet.service.d"
cp "$HERE/debian/10-kubeadm.conf" "$WORK/kubeadm/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"

# etcd-server/etcd-client play the etcd image: it ships etcdctl, which `crictl exec <etcd> etcdctl` runs.
stage kubelet "$VER-$REV" "iptables (>= 1.4.21), kubernetes-cni (>= 1.1.1), iproute2, socat, util-linux, mount, ebtables, ethtool, conntrack, etcd-server (>= 3.4), etcd-client (>= 3.4), $PYDEPS, systemd" "Node agent for Kubernetes clusters (lab stand-in)"
lib kubelet
wrapper kubelet kubelet kubelet.py
mkdir -p "$WORK/kubelet/usr/lib/systemd/system" "$WORK/kubelet/etc/kubernetes/manifests"
cp "$HERE/debian/kubelet.service" "$WORK/kubelet/usr/lib/systemd/system/kubelet.service"
printf '#!/bin/sh\nset -e\nif [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi\n' > "$WORK/kubeadm/DEBIAN/postinst"
chmod 755 "$WORK/kubeadm/DEBIAN/postinst"
cat > "$WORK/kubelet/DEBIAN/postinst" <<'PI'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
# Debian's etcd binary stands in for the etcd image that the kubelet runs as a static Pod;
# Debian's own etcd service must not hold ports 2379/2380 or /var/lib/etcd.
if [ -e /lib/systemd/system/etcd.service ] || [ -e /usr/lib/systemd/system/etcd.service ]; then
  systemctl disable --now etcd.service >/dev/null 2>&1 || true
  systemctl mask etcd.service >/dev/null 2>&1 || true
  rm -rf /var/lib/etcd/default
  # as on a kubeadm node, where the kubelet creates it for the etcd static Pod
  if [ -d /var/lib/etcd ]; then chown root:root /var/lib/etcd; chmod 700 /var/lib/etcd; fi
fi
exit 0
PI
chmod 755 "$WORK/kubelet/DEBIAN/postinst"

stage kubectl "$VER-$REV" "$PYDEPS" "Command-line utility for interacting with a Kubernetes cluster (lab stand-in)"
lib kubectl
wrapper kubectl kubectl kubectl.py

stage cri-tools "$CRI_VER-$REV" "$PYDEPS" "Command-line utility for interacting with a container runtime (lab stand-in)"
lib cri-tools
wrapper cri-tools crictl crictl.py

stage kubernetes-cni "$CNI_VER-$REV" "containernetworking-plugins" "Binaries required to provision kubernetes container networking (lab stand-in)"
mkdir -p "$WORK/kubernetes-cni/opt/cni/bin"
for p in bandwidth bridge dhcp firewall host-device host-local ipvlan loopback macvlan portmap ptp sbr static tuning vlan vrf; do
  ln -s "/usr/lib/cni/$p" "$WORK/kubernetes-cni/opt/cni/bin/$p"
done

for p in kubeadm kubelet kubectl cri-tools kubernetes-cni; do
  v=$(sed -n 's/^Version: //p' "$WORK/$p/DEBIAN/control")
  dpkg-deb --root-owner-group -Zxz --build "$WORK/$p" "$OUT/${p}_${v}_amd64.deb" >/dev/null
  echo "$OUT/${p}_${v}_amd64.deb"
done
