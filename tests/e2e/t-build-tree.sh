#!/bin/sh
# e2e: the prepared tree from a partial extraction of the source tarball. A cold build (an
# empty cache of its own) extracts only the core of the tarball and the files the patch
# names, and its livepatch works in the booted kernel; a later build naming files outside
# that set has them extracted on demand (and works too); a compile that needs a file not
# extracted gets the rest of the tarball and succeeds.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup
# a cold cache of this test's own
ELIVEPATCH_CACHE=$t/cache
export ELIVEPATCH_CACHE

check "kernel add $E2E_RELEASE (tarball source)" e2e_add_kernel "$E2E_RELEASE" "$ks"
pristine=$(e2e_source_file fs/proc/cmdline.c fs/proc/loadavg.c fs/proc/uptime.c \
	include/linux/seq_file.h) ||
	bail "pristine files from the tarball"

# build NAME PATCH [ARGS...]: a build into $t/NAME.ko, its stderr in $t/NAME.err
build() {
	_n=$1 _p=$2; shift 2
	elp build --kernel "$E2E_RELEASE" --patch "$patches/$_p.patch" --name "$_n" --no-cumulative \
		-o "$t/$_n.ko" "$@" > "$t/$_n.out" 2> "$t/$_n.err"
	_rc=$?
	[ "$_rc" = 0 ] || sed 's/^/# /' "$t/$_n.err" | tail -n 8
	return "$_rc"
}
same_as_tarball() { # REL
	for _f in $pristine; do
		case $_f in */src/"$1") cmp -s "$_f" "$tree/$1"; return ;; esac
	done
	return 1
}
pending_has() { grep -qx "$1" "$root/pending"; }
build_log() { q "SELECT log_path FROM builds WHERE module_name = '$1' ORDER BY id DESC LIMIT 1"; }

# ---- cold: the core of the tarball and the patch's files ----
t0=$(date +%s)
check "a cold build from the tarball succeeds" build elp_cold cmdline-string
printf '# cold build: %s s\n' "$(($(date +%s) - t0))"
tree=$(ls -d "$ELIVEPATCH_CACHE"/trees/*/linux 2>/dev/null | head -n1)
root=${tree%/linux}
[ -d "$tree" ] || bail "a prepared tree in $ELIVEPATCH_CACHE/trees"
check "the tree is marked prepared" test -f "$root/prepared"
check "...and lists the files not extracted (pending)" test -s "$root/pending"
total=$(xz -dc -T0 "$E2E_SOURCE_TARBALL" | tar -tvf - | grep -c '^-')
pending=$(wc -l < "$root/pending")
printf '# %s of the tarball'"'"'s %s files pending\n' "$pending" "$total"
check "...more than half of the tarball's files" [ $((pending * 2)) -gt "$total" ]
check "the patched file is extracted, as in the tarball" same_as_tarball fs/proc/cmdline.c
check "a .c file the build does not name is not" test ! -e "$tree/fs/proc/loadavg.c"
check "...and is pending" pending_has fs/proc/loadavg.c
check "no documentation is extracted" sh -c "! ls '$tree'/Documentation/*.rst > /dev/null 2>&1"
check "the build log tells what was extracted" \
	grep -q '\[tree\] extracted [0-9]* of the [0-9]* files' "$(build_log elp_cold)"
# CONFIG_DEBUG_INFO_BTF is set, but without vmlinux no module link runs resolve_btfids
check "the reference config has CONFIG_DEBUG_INFO_BTF" grep -qx 'CONFIG_DEBUG_INFO_BTF=y' "$tree/.config"
check "objtool is built" test -x "$tree/tools/objtool/objtool"
check "resolve_btfids and libbpf are not (the tree has no vmlinux)" \
	test ! -e "$tree/tools/bpf/resolve_btfids/resolve_btfids" -a \
	! -e "$tree/tools/bpf/resolve_btfids/libbpf"

# ---- a later build names files outside the core set: extracted on demand ----
check "a build of two files not extracted yet succeeds" build elp_more two-files
check "...saying it extracts them" grep -q 'extracting 2 more files' "$(build_log elp_more)"
check "...loadavg.c, as in the tarball" same_as_tarball fs/proc/loadavg.c
check "...uptime.c, as in the tarball" same_as_tarball fs/proc/uptime.c
check "...and they are no longer pending" sh -c "! grep -qx -e fs/proc/loadavg.c -e fs/proc/uptime.c '$root/pending'"
check "...in the same prepared tree" [ "$(ls -d "$ELIVEPATCH_CACHE"/trees/*/linux | wc -l)" = 1 ]

# ---- a compile needing a file that is not there: the rest is extracted ----
# (as if the core set lacked a header its compile needs)
rm -f "$tree/include/linux/seq_file.h"
echo include/linux/seq_file.h >> "$root/pending"
sort -o "$root/pending" "$root/pending"
check "a compile missing a file in a partial tree still succeeds" build elp_rest cmdline-string --rebuild
check "...after extracting the rest of the tarball" grep -q 'extracting the rest of' "$(build_log elp_rest)"
check "...the file is back, as in the tarball" same_as_tarball include/linux/seq_file.h
check "...and nothing is pending any more" test ! -e "$root/pending"
check "the patched file is as in the tarball after the build" same_as_tarball fs/proc/cmdline.c
check "...and the tree is still the one prepared (not prepared again)" \
	sh -c "! grep -q 'preparing' '$(build_log elp_rest)'"

# ---- the modules work in the booted kernel ----
cat > "$t/init.sh" <<'EOF'
e2e_lp_run elp_cold cat /proc/cmdline
e2e_lp_run elp_more sh -c "awk '{ print (\$NF == \"elivepatch-test\") }' /proc/loadavg"
EOF
check "initramfs with the modules" e2e_initramfs "$t/initrd.gz" "$t/init.sh" "$t/elp_cold.ko" "$t/elp_more.ko"
check "the reference kernel boots and runs the checks" e2e_boot "$t/initrd.gz" "$t/boot.log" 180
check "the guest's log is clean" e2e_guest_dmesg_ok "$t/boot.log"
cmdline="console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}"
e2e_check_result "cold tree's livepatch: /proc/cmdline before" "$t/boot.log" elp_cold_before "$cmdline"
e2e_check_result "...patched" "$t/boot.log" elp_cold_on elivepatch-test-cmdline
e2e_check_result "...after disabling" "$t/boot.log" elp_cold_off "$cmdline"
e2e_check_result "on-demand files' livepatch: /proc/loadavg before" "$t/boot.log" elp_more_before 0
e2e_check_result "...patched" "$t/boot.log" elp_more_on 1
e2e_check_result "...after disabling" "$t/boot.log" elp_more_off 0
t_done
