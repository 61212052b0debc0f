# otp-provision facts script (POSIX sh, run as root in one round trip).
# The caller prepends OTP_SYSCTLS, OTP_PACKAGES, OTP_SERVICES, OTP_FILES (newline-separated,
# shell-quoted), OTP_DISPLAY (1 or empty) and the otp_probes and otp_report* functions.
# Output: "@@section NAME" lines, each followed by the raw text of that section; parsers in
# src/facts/parse.rs own the interpretation. Nothing here changes the host.
LC_ALL=C
export LC_ALL
# Package and service names are word-split below; never let them glob.
set -f
sec() { printf '@@section %s\n' "$1"; }
names() { printf '%s\n' "$1" | while IFS= read -r n; do [ -n "$n" ] && printf '%s\n' "$n"; done; }

# The slow, independent parts (version commands, report scripts such as the cluster probes)
# start first and run while the rest is read; `late` prints each one's output in its place.
# Without a temporary directory they run inline, in order, as before.
otp_tmp=$(mktemp -d 2>/dev/null) || otp_tmp=
[ -z "$otp_tmp" ] || trap 'rm -rf "$otp_tmp"' EXIT
early() { otp_n=$1; shift; [ -z "$otp_tmp" ] || "$@" >"$otp_tmp/$otp_n" 2>/dev/null & }
late() { if [ -n "$otp_tmp" ]; then cat "$otp_tmp/$1"; else shift; "$@"; fi; }
otp_versions() {
  command -v kubeadm >/dev/null 2>&1 && printf 'kubeadm=%s\n' "$(kubeadm version -o short 2>/dev/null)"
  command -v kubelet >/dev/null 2>&1 && printf 'kubelet=%s\n' "$(kubelet --version 2>/dev/null)"
  command -v containerd >/dev/null 2>&1 && printf 'containerd=%s\n' "$(containerd --version 2>/dev/null)"
  :
}
[ -z "$OTP_DISPLAY" ] || early versions otp_versions
otp_reports_start

sec os-release
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null

sec uname
uname -n
uname -r
uname -m

sec nproc
nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null

sec meminfo
grep '^MemTotal:' /proc/meminfo 2>/dev/null

sec swaps
cat /proc/swaps 2>/dev/null

sec fstab-swap
awk '$1 !~ /^#/ && $3 == "swap" { print $1 }' /etc/fstab 2>/dev/null

sec modules
# No /proc/modules: a kernel built without loadable modules (everything is built in).
[ -e /proc/modules ] || echo '!no-loadable-modules'
cut -d' ' -f1 /proc/modules 2>/dev/null
# Built-in modules never appear in /proc/modules but do have /sys/module entries.
ls -1 /sys/module 2>/dev/null

sec sysctl
# The path by builtins (not a tr per key: on a host shared by many nodes process starts add up).
# The value needs a real read: `read` takes a byte at a time, and /proc/sys answers a read at an
# offset with end of file.
names "$OTP_SYSCTLS" | while IFS= read -r k; do
  p=/proc/sys r=$k
  while :; do case $r in *.*) p=$p/${r%%.*} r=${r#*.} ;; *) p=$p/$r; break ;; esac; done
  if [ -r "$p" ]; then
    printf '%s=%s\n' "$k" "$(tr '\t\n' '  ' < "$p" 2>/dev/null)"
  else
    printf '!%s\n' "$k"
  fi
done

sec dpkg
if command -v dpkg-query >/dev/null 2>&1 && [ -n "$OTP_PACKAGES" ]; then
  # shellcheck disable=SC2046
  dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n' $(names "$OTP_PACKAGES") 2>/dev/null
fi

sec rpm
if ! command -v dpkg-query >/dev/null 2>&1 && command -v rpm >/dev/null 2>&1 && [ -n "$OTP_PACKAGES" ]; then
  # shellcheck disable=SC2046
  rpm -q --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n' $(names "$OTP_PACKAGES") 2>/dev/null | grep -v ' is not installed'
fi

sec services
if command -v systemctl >/dev/null 2>&1 && [ -n "$OTP_SERVICES" ]; then
  # One systemctl for all units: it prints a block per unit, in argument order, separated by
  # empty lines; awk heads each block with its unit's name. --timestamp=unix needs systemd
  # >= 251; older ones get the same query without it. (set -f is on: names never glob.)
  # shellcheck disable=SC2046
  set -- $(names "$OTP_SERVICES")
  { systemctl show --timestamp=unix -p LoadState -p ActiveState -p UnitFileState \
      -p ActiveEnterTimestamp -- "$@" 2>/dev/null </dev/null \
    || systemctl show -p LoadState -p ActiveState -p UnitFileState -- "$@" 2>/dev/null </dev/null; } \
    | awk -v names="$*" 'BEGIN { n = split(names, u, " "); i = 1; print "@@unit " u[1] }
        /^$/ { if (++i <= n) print "@@unit " u[i]; next } { print }'
fi

sec files
# One sha256sum and one stat for all present files (not two of each per file), joined by path.
set --
while IFS= read -r f; do
  [ -n "$f" ] || continue
  if [ -f "$f" ]; then set -- "$@" "$f"; else printf '%s\t-\n' "$f"; fi
done <<OTP_FILES_END
$OTP_FILES
OTP_FILES_END
if [ $# -gt 0 ]; then
  { sha256sum -- "$@" 2>/dev/null; echo '@@stat'; stat -c '%a	%U:%G	%Y	%n' -- "$@" 2>/dev/null; } | awk '
    $0 == "@@stat" { st = 1; next }
    !st { h = $1; sub(/^[^ ]+  /, ""); sha[$0] = h; next }
    {
      split($0, a, "\t"); meta = a[1] "\t" a[2] "\t" a[3]; path = substr($0, length(meta) + 2)
      if (path in sha) printf "%s\t%s\t%s\n", path, sha[path], meta; else printf "%s\t-\n", path
    }'
fi

sec kube-files
for f in /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/kubelet.conf \
  /etc/kubernetes/bootstrap-kubelet.conf /etc/kubernetes/controller-manager.conf \
  /etc/kubernetes/scheduler.conf /etc/kubernetes/pki/ca.key /etc/kubernetes/pki/sa.key \
  /etc/kubernetes/pki/etcd/ca.key /var/lib/kubelet/config.yaml /var/lib/kubelet/kubeadm-flags.env \
  /var/lib/kubelet/pki/kubelet-client-current.pem /var/lib/etcd/member; do
  [ -e "$f" ] && printf '%s\n' "$f"
done

sec kube-manifests
ls -1 /etc/kubernetes/manifests 2>/dev/null

sec kube-ca
if [ -f /etc/kubernetes/pki/ca.crt ]; then
  printf 'sha256=%s\n' "$(sha256sum < /etc/kubernetes/pki/ca.crt | cut -d' ' -f1)"
  if [ -n "$OTP_DISPLAY" ] && command -v openssl >/dev/null 2>&1; then
    # The value `kubeadm join --discovery-token-ca-cert-hash sha256:...` expects (shown by
    # `facts`; joins take it from the token step on the control plane).
    printf 'pubkey-sha256=%s\n' "$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt 2>/dev/null \
      | openssl pkey -pubin -outform der 2>/dev/null | sha256sum | cut -d' ' -f1)"
  fi
fi

sec kube-servers
# API server each kubeconfig points at: tells which endpoint a node was joined through.
for f in /etc/kubernetes/admin.conf /etc/kubernetes/kubelet.conf; do
  [ -f "$f" ] && printf '%s\t%s\n' "$f" "$(awk '$1 == "server:" { print $2; exit }' "$f")"
done

sec ident
# kubeadm needs unique hostnames, MACs and product_uuids; cloned images often share them.
printf 'machine-id=%s\n' "$(cat /etc/machine-id 2>/dev/null)"
printf 'product-uuid=%s\n' "$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"

sec route
ip -o -4 route show default 2>/dev/null

sec addr
ip -o addr show 2>/dev/null

sec listen
cat /proc/net/tcp /proc/net/tcp6 2>/dev/null

sec probes
otp_probes

sec versions
# Every early job has finished from here on.
[ -z "$otp_tmp" ] || wait
[ -z "$OTP_DISPLAY" ] || late versions otp_versions

sec reports
otp_reports

sec end
