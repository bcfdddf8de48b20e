#!/bin/sh
# What elivepatch needs to build (deps.sh build), to build and test (deps.sh test) or to
# fuzz (deps.sh fuzz: clang's libFuzzer, for make fuzz).
# Each need is checked by what it provides (a pkg-config module, a command, a file),
# not by a distribution's package database, so the check works on any distribution.
# On Debian as root the missing packages are installed with apt-get; anywhere else the
# missing ones are listed in the distribution's own words (Debian package names,
# Gentoo atoms) and the script exits 1 without installing anything.
# Env: ELP_DEPS_NO_INSTALL=1 only lists; PKG_CONFIG as in the Makefile;
# ELP_DEPS_OS=debian|gentoo|other names the distribution instead of /etc/*-release
# (what is installed with apt-get, and in whose words the missing ones are listed).
set -u
mode=${1:-build}
pc=${PKG_CONFIG:-pkg-config}

# need KIND WHAT DEBIAN-PACKAGE GENTOO-ATOM
#   KIND: pc (pkg-config module), cmd (command on PATH), static (a static executable),
#   file (a file that must exist)
build_needs='
cmd cc build-essential sys-devel/gcc
cmd make make dev-build/make
cmd pkg-config pkg-config virtual/pkgconfig
pc libgit2 libgit2-dev dev-libs/libgit2
pc libarchive libarchive-dev app-arch/libarchive
pc liblzma liblzma-dev app-arch/xz-utils
pc sqlite3 libsqlite3-dev dev-db/sqlite
pc libkmod libkmod-dev sys-apps/kmod
pc popt libpopt-dev dev-libs/popt
pc libelf libelf-dev virtual/libelf
pc libcrypto libssl-dev dev-libs/openssl
'
test_needs='
pc cmocka libcmocka-dev dev-util/cmocka
cmd sqlite3 sqlite3 dev-db/sqlite
cmd modinfo kmod sys-apps/kmod
cmd xz xz-utils app-arch/xz-utils
cmd qemu-system-x86_64 qemu-system-x86 app-emulation/qemu
static /bin/busybox busybox-static sys-apps/busybox[static]
cmd cpio cpio app-alternatives/cpio
cmd pahole dwarves dev-util/pahole
cmd bc bc sys-devel/bc
cmd openssl openssl dev-libs/openssl
cmd python3 python3 dev-lang/python
cmd flex flex sys-devel/flex
cmd bison bison sys-devel/bison
cmd rsync rsync net-misc/rsync
cmd ssh openssh-client net-misc/openssh
cmd sshd openssh-server net-misc/openssh
cmd zstd zstd app-arch/zstd
cmd bwrap bubblewrap sys-apps/bubblewrap
cmd gzip gzip app-arch/gzip
cmd mandoc mandoc app-text/mandoc
cmd shellcheck shellcheck dev-util/shellcheck
cmd git git dev-vcs/git
cmd gpg gnupg app-crypt/gnupg
cmd gpgv gpgv app-crypt/gnupg
cmd clang-format clang-format llvm-core/clang
cmd clang-tidy clang-tidy llvm-core/clang
cmd cppcheck cppcheck dev-util/cppcheck
file /usr/share/bash-completion/bash_completion bash-completion app-shells/bash-completion
'
fuzz_needs='
cmd clang clang sys-devel/clang
'
os=${ELP_DEPS_OS:-}
if [ -z "$os" ]; then
	if [ -f /etc/gentoo-release ]; then
		os=gentoo
	elif [ -f /etc/debian_version ]; then
		os=debian
	else
		os=other
	fi
fi
case $os in
debian | gentoo | other) ;;
*) echo "deps: ELP_DEPS_OS='$os' is not debian, gentoo or other" >&2; exit 129 ;;
esac
case $mode in
build) needs=$build_needs ;;
test) needs="$build_needs$test_needs" ;;
fuzz) needs="$build_needs$fuzz_needs" ;;
*) echo "usage: deps.sh build|test|fuzz" >&2; exit 129 ;;
esac

have() { # KIND WHAT
	case $1 in
	pc) command -v "$pc" >/dev/null 2>&1 && "$pc" --exists "$2" 2>/dev/null ;;
	cmd) command -v "$2" >/dev/null 2>&1 || [ -x "/usr/sbin/$2" ] || [ -x "/sbin/$2" ] ;;
	# a dynamic executable names its program interpreter
	static) [ -x "$2" ] && ! grep -q 'ld-linux' "$2" ;;
	file) [ -e "$2" ] ;;
	esac
}

missing_deb='' missing_gentoo='' missing_what=''
while read -r kind what deb gentoo; do
	[ -n "$kind" ] || continue
	have "$kind" "$what" && continue
	case " $missing_deb " in *" $deb "*) ;; *) missing_deb="$missing_deb $deb" ;; esac
	case " $missing_gentoo " in *" $gentoo "*) ;; *) missing_gentoo="$missing_gentoo $gentoo" ;; esac
	missing_what="$missing_what $what"
done <<EOF_NEEDS
$needs
EOF_NEEDS
[ -z "$missing_what" ] && exit 0

if [ "$os" = debian ] && command -v apt-get >/dev/null 2>&1 &&
	[ "$(id -u)" = 0 ] && [ -z "${ELP_DEPS_NO_INSTALL:-}" ]; then
	echo "deps: installing$missing_deb"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing_deb >/dev/null ||
		{ echo "deps: apt-get install$missing_deb failed" >&2; exit 1; }
	exit 0
fi
echo "deps: missing:$missing_what" >&2
case $os in
gentoo) echo "deps: install them with: emerge --ask --noreplace$missing_gentoo" >&2 ;;
debian) echo "deps: install them as root with: apt-get install$missing_deb" >&2 ;;
*) echo "deps: Debian packages:$missing_deb; Gentoo atoms:$missing_gentoo" >&2 ;;
esac
exit 1
