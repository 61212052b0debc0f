#!/bin/sh
# Turn a directory of .deb files into an apt repository usable both as a flat repository
# (`deb [trusted=yes] URL/ /`) and as a suite (`deb [trusted=yes] URL bookworm main`).
# Usage: make-archive.sh DIR SUITE|-
#   DIR/pool/*.deb must exist; with SUITE "-" only the flat index is written (pkgs.k8s.io style).
set -eu

dir=$1
suite=$2
cd "$dir"

dpkg-scanpackages --multiversion pool /dev/null > Packages 2>/dev/null
gzip -9nc Packages > Packages.gz

release() {
    # $1: directory the Release file describes; remaining: index files relative to it.
    rdir=$1
    shift
    {
        echo "Origin: otp-lab"
        echo "Label: otp-lab"
        [ "$suite" != "-" ] && echo "Suite: $suite" && echo "Codename: $suite" && echo "Components: main"
        echo "Architectures: amd64 all"
        echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
        echo "SHA256:"
        for f in "$@"; do
            printf ' %s %s %s\n' "$(sha256sum "$rdir/$f" | cut -d' ' -f1)" "$(stat -c %s "$rdir/$f")" "$f"
        done
    } > "$rdir/Release"
}

release . Packages Packages.gz

if [ "$suite" != "-" ]; then
    bin="dists/$suite/main/binary-amd64"
    mkdir -p "$bin"
    cp Packages Packages.gz "$bin/"
    release "dists/$suite" main/binary-amd64/Packages main/binary-amd64/Packages.gz
fi
