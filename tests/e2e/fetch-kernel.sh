#!/bin/sh
# Fetch and unpack the reference kernel (Debian's linux-image/-headers/-source of the
# same version) into a cache directory, once. Prints the cache directory of the kernel.
# Usage: fetch-kernel.sh [CACHE_ROOT]
set -eu
root=${1:-${ELIVEPATCH_TEST_CACHE:-/var/cache/elivepatch-test}}
image=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n1)
[ -n "$image" ] || { echo "fetch-kernel: cannot resolve linux-image-amd64 (run apt-get update)" >&2; exit 1; }
release=${image#linux-image-}
dir=$root/$release
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
mkdir -p "$dir/debs"
cd "$dir/debs"
version=$(apt-cache show "$image" | sed -n 's/^Version: //p' | head -n1)
src_pkg=linux-source-${release%%.*}.$(echo "$release" | cut -d. -f2)
common=$(apt-cache depends "linux-headers-$release" | sed -n 's/^ *Depends: \(linux-headers-[0-9].*-common\)$/\1/p' | head -n1)
kbuild=$(apt-cache depends "linux-headers-$release" | sed -n 's/^ *Depends: \(linux-kbuild-[0-9.]*\)$/\1/p' | head -n1)
apt-get download -q "$image" "linux-headers-$release" "$common" "$kbuild" "$src_pkg=$version" >/dev/null
cd "$dir"
rm -rf root && mkdir root
for deb in debs/*.deb; do dpkg -x "$deb" root; done
ln -sfn "$dir/root/usr/src/linux-headers-$release" headers
ln -sfn "$dir/root/usr/src/$src_pkg.tar.xz" source.tar.xz
# dpkg -x does not run depmod: the modules tree needs modules.dep to be usable (--modules)
depmod -b "$dir/root" "$release"
echo "$release" > release
touch .complete
echo "$dir"
