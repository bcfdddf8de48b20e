#!/bin/sh
# e2e: the README's quick start ("By hand:"), its ./elivepatch lines run as written, in a fresh
# temp dir where ./elivepatch is the uninstalled build/elivepatch (linked, as `make` links it
# in the checkout), without ELIVEPATCH_DATADIR, and fix.patch a patch that includes
# <elivepatch.h>.  Only the paths of the kernel's files are replaced by the reference kernel's
# cached ones; `kernel detect --add` (the machine's running kernel is not the reference one)
# and `apply` (it would load the module into this machine's kernel) are left out.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
top=$(cd "$here/../.." && pwd)
bin=$(cd "$(dirname "$ELIVEPATCH")" && pwd -P)/$(basename "$ELIVEPATCH")
[ "$bin" = "$top/build/elivepatch" ] || bail "the tree's build/elivepatch (got $bin)"

# the quick start's commands: from "By hand:" to the next heading, continuation lines joined
sed -n '/^By hand:$/,/^## /p' "$top/README.md" | sed -n 's/^    //p' |
	sed -e ':a' -e '/\\$/{N;s/\\\n *//;ba' -e '}' | grep '^\./elivepatch ' | sed 's/ *#.*$//' \
	> "$t/quickstart"
check "the README has a quick start of ./elivepatch lines" test "$(wc -l < "$t/quickstart")" -ge 8

mkdir "$t/qs" && cd "$t/qs" || bail "fresh temp dir"
ln -s "$bin" elivepatch
cp "$patches/callbacks.patch" fix.patch
check "fix.patch includes <elivepatch.h>" grep -q '^+#include <elivepatch.h>' fix.patch
cp "$ks" kallsyms.txt
unset ELIVEPATCH_DATADIR
ELIVEPATCH_DB=$t/qs/catalogue.db
export ELIVEPATCH_DB

n=0
while read -r line; do
	case "$line" in
	"./elivepatch kernel detect"*|"./elivepatch apply "*) continue ;;
	esac
	cmd=$(printf '%s\n' "$line" | sed \
		-e "s|/usr/src/linux-source-6.1.tar.xz|$E2E_SOURCE_TARBALL|g" \
		-e "s|/boot/config-6.1.0-57-amd64|$E2E_CONFIG|g" \
		-e "s|/usr/src/linux-headers-6.1.0-57-amd64|$E2E_HEADERS|g" \
		-e "s|/boot/vmlinuz-6.1.0-57-amd64|$E2E_VMLINUZ|g" \
		-e "s|6.1.0-57-amd64|$E2E_RELEASE|g")
	n=$((n + 1))
	case "$line" in
	"./elivepatch status")
		if [ ! -d /sys/kernel/livepatch ]; then
			skip "$line: this machine's kernel has no livepatch support"
			continue
		fi ;;
	esac
	if sh -c "$cmd" < /dev/null > "$t/out.$n" 2> "$t/err.$n"; then
		ok "$line"
	else
		not_ok "$line"
		sed 's/^/# /' "$t/err.$n" | tail -n 15
	fi
	case "$line" in
	"./elivepatch patch show"*)
		check "...lists the callbacks the patch defines" \
			grep -q "functions: version_pre_patch, version_post_unpatch" "$t/out.$n" ;;
	"./elivepatch build --kernel"*)
		check "...without a word about elivepatch.h" sh -c '! grep -q "elivepatch.h" "$1"' - "$t/err.$n"
		check "...writes fix.ko" test -s fix.ko ;;
	"./elivepatch build list"*)
		check "...shows build 1 succeeded" grep -q "^1	$E2E_RELEASE	fix	succeeded	elp_fix	" "$t/out.$n" ;;
	"./elivepatch build show"*)
		check "...shows fix.patch's sha256" grep -q "patch  *fix  sha256 $(sha256sum < fix.patch | cut -d' ' -f1)$" "$t/out.$n" ;;
	"./elivepatch verify"*)
		check "...passed" grep -q "^build 1: verification passed" "$t/out.$n" ;;
	"./elivepatch history"*)
		check "...has the build and the verify" sh -c 'grep -q "	build	.*	1	elp_fix	fix	" "$1" && grep -q "	verify	.*	1	elp_fix	" "$1"' - "$t/out.$n" ;;
	esac
done < "$t/quickstart"
check "every quick-start step ran" test "$n" -ge 8

# the same build where elivepatch.h is not: the last line says where it was looked for
ELIVEPATCH_DATADIR=$t/nodata ./elivepatch build --kernel "$E2E_RELEASE" --patch fix --rebuild \
	< /dev/null > "$t/nodata.out" 2> "$t/nodata.err"
check "without elivepatch.h the build fails" test $? = 1
if tail -n 1 "$t/nodata.err" | grep -q "elivepatch.h: No such file.*; elivepatch.h is not in '$t/nodata/include': set ELIVEPATCH_DATADIR"; then
	ok "...and its last line names the directory searched"
else
	not_ok "...and its last line names the directory searched"
	sed 's/^/# /' "$t/nodata.err"
fi

t_done
