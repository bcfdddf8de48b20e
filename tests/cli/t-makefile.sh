#!/bin/sh
# The Makefile on a machine as users have it, run in a scratch copy with a small
# program that links every library the real one does:
#  - `make demo` on a fresh Debian machine (as root): deps installs the libraries, then
#    the same `make demo` links against them. pkg-config answers only once the install
#    ran, so a Makefile that asks pkg-config when it is read, before deps, links without
#    the libraries and fails (issue 8).
#  - `make` and `make check` where libraries are missing, without root or not on Debian:
#    they say what is missing in that distribution's words and never run apt-get.
#  - `make` without root where everything is there; -MMD: a header rebuilds only its
#    users; the binary is build/elivepatch with ./elivepatch a symlink.
# apt-get is the one stand-in: a script on PATH that logs its calls, and whose
# `install` makes pkg-config start answering, as the real install would.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
chmod 755 "$T"
mkdir -p "$T/bin"
mark=$T/installed
aptlog=$T/apt.log
: > "$aptlog"
chmod 666 "$aptlog"
cat > "$T/bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >> '$aptlog'
echo "stand-in apt-get called: \$*" >&2
case \$1 in install) touch '$mark' ;; esac
exit 0
EOF
# pkg-config that knows the libraries only once they are "installed"
cat > "$T/bin/pc" <<EOF
#!/bin/sh
[ -e '$mark' ] || exit 1
exec pkg-config "\$@"
EOF
chmod 755 "$T/bin/apt-get" "$T/bin/pc"
PATH=$T/bin:$PATH
PKG_CONFIG=$T/bin/pc
export PATH PKG_CONFIG
unset ELP_DEPS_NO_INSTALL MAKEFLAGS MFLAGS MAKELEVEL

# scratch DIR: the project's Makefile, deps.sh and schema with a small program
scratch() {
	mkdir -p "$1/src/lib" "$1/src/engine" "$1/data" "$1/contrib"
	cp "$top/Makefile" "$1/"
	cp "$top/contrib/deps.sh" "$1/contrib/"
	cp -r "$top/data/schema" "$top/data/sql2c.sh" "$1/data/"
	# the demo step stands for contrib/demo.sh: it runs what was built
	printf '#!/bin/sh\n./elivepatch\n' > "$1/contrib/demo.sh"
	cat > "$1/src/elivepatch.c" <<'EOF'
#include <archive.h>
#include <git2.h>
#include <libelf.h>
#include <libkmod.h>
#include <openssl/crypto.h>
#include <popt.h>
#include <sqlite3.h>
#include <stdio.h>

#include "lib/one.h"

int main(void)
{
	poptContext pc = poptGetContext("t", 0, NULL, NULL, 0);

	git_libgit2_init();
	printf("linked: archive %d sqlite %s elf %u crypto %lu kmod %d two %d\n",
	       archive_version_number(), sqlite3_libversion(),
	       elf_version(EV_CURRENT), OpenSSL_version_num(),
	       kmod_new(NULL, NULL) != NULL, one());
	poptFreeContext(pc);
	return 0;
}
EOF
	printf 'int one(void);\n' > "$1/src/lib/one.h"
	printf '#include "one.h"\nint one(void)\n{\n\treturn 1;\n}\n' > "$1/src/lib/one.c"
	printf 'int two(void);\nint two(void)\n{\n\treturn 2;\n}\n' > "$1/src/lib/two.c"
}

# mk DIR ARGS...: make in DIR, output in $T/out, status in $st
mk() {
	_d=$1; shift
	make -C "$_d" --no-print-directory "$@" > "$T/out" 2>&1
	st=$?
}
# as_nobody DIR ARGS...: the same without root
as_nobody() {
	_d=$1; shift
	setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/ \
		make -C "$_d" --no-print-directory "$@" > "$T/out" 2>&1
	st=$?
}
no_apt() { [ ! -s "$aptlog" ]; }
says() { grep -q -- "$1" "$T/out"; }
show_out() { sed 's/^/# /' "$T/out"; }

# ---- a fresh Debian machine, as root: make demo is the first command ----
if [ "$(id -u)" = 0 ]; then
	scratch "$T/fresh"
	ELP_DEPS_OS=debian mk "$T/fresh" demo
	check "make demo on a fresh machine builds and runs (status $st)" test "$st" -eq 0
	check "...deps installed the libraries with apt-get" grep -q '^apt-get install .*libgit2-dev' "$aptlog"
	check "...the link line names the libraries installed in the same make demo" \
		grep -q -- '-o build/elivepatch .*-lgit2.*-lelf' "$T/out"
	check "...the program it linked ran" says '^linked: archive'
	[ "$st" -eq 0 ] || show_out
else
	skip "make demo as root on a fresh machine: not root"
fi

# ---- libraries missing, no install: say what, in the distribution's words ----
rm -f "$mark"
: > "$aptlog"
scratch "$T/missing"
ELP_DEPS_OS=debian mk "$T/missing" all
check "make with libraries missing fails (status $st)" test "$st" -ne 0
check "...names what is missing" says '^deps: missing:.* libgit2 .*libelf'
check "...in Debian's words" says 'apt-get install .*libgit2-dev .*libelf-dev'
check "...without running apt-get, even as root" no_apt
check "...and builds nothing" test ! -e "$T/missing/build/elivepatch"

ELP_DEPS_OS=gentoo mk "$T/missing" check
check "make check on Gentoo with libraries missing fails (status $st)" test "$st" -ne 0
check "...in Gentoo's words (the ebuild's atoms)" \
	says 'emerge --ask --noreplace .*dev-libs/libgit2 .*virtual/libelf'
check "...without running apt-get" no_apt

ELP_DEPS_OS=other mk "$T/missing" check
check "make check elsewhere lists Debian names and Gentoo atoms" \
	says 'Debian packages: .*libgit2-dev.*; Gentoo atoms: .*dev-libs/libgit2'
check "...without running apt-get" no_apt

ELP_DEPS_OS=debian-ish mk "$T/missing" check
check "ELP_DEPS_OS other than debian, gentoo or other is refused" says "ELP_DEPS_OS='debian-ish' is not"

if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	ELP_DEPS_OS=debian as_nobody "$T/missing" check
	check "make check without root on Debian with libraries missing fails (status $st)" test "$st" -ne 0
	check "...says to install them as root with apt-get" says 'as root with: apt-get install .*libgit2-dev'
	check "...without running apt-get" no_apt

	# ---- everything there: make works without root and without apt ----
	touch "$mark"
	scratch "$T/user"
	chown -R 65534:65534 "$T/user"
	ELP_DEPS_OS=debian as_nobody "$T/user" all
	check "make without root where the libraries are there (status $st)" test "$st" -eq 0
	check "...without running apt-get" no_apt
	[ "$st" -eq 0 ] || show_out
else
	skip "make without root: not root or no setpriv"
fi

# ---- what make writes and rebuilds ----
touch "$mark"
d=$T/fresh
[ -x "$d/build/elivepatch" ] || { scratch "$T/deps" && d=$T/deps && mk "$d" all; }
check "the binary is build/elivepatch" test -x "$d/build/elivepatch"
check "./elivepatch is a symlink to it" sh -c "[ -L '$d/elivepatch' ] && [ \"\$(readlink '$d/elivepatch')\" = build/elivepatch ]"
mk "$d" all
check "a second make has nothing to do" sh -c "! grep -q -- '-o build/' '$T/out'"
sleep 1
touch "$d/src/lib/one.h"
mk "$d" all
check "a changed header rebuilds its users (-MMD)" grep -q -- '-o build/src/lib/one.o' "$T/out"
check "...and not the other objects" sh -c "! grep -q -- '-o build/src/lib/two.o' '$T/out'"
check "...and links again" grep -q -- '-o build/elivepatch ' "$T/out"

t_done
