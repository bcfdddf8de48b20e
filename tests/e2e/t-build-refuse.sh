#!/bin/sh
# e2e: `elivepatch build` refuses what it cannot livepatch, clearly, with a non-zero exit,
# a 'refused' (or 'failed') build row without an artefact, and leaves the shared prepared
# tree pristine.  No guest is booted.
#   bad-header-only      touches only a header, a comment: no function body changes
#   bad-header-inline    changes a static inline of seq_file.h used by files it does not touch
#   bad-not-built        changes a file the kernel's config does not build
#   bad-comment-only     changes no object code
#   bad-wrong-version    does not apply to this kernel's source
#   bad-compile-error    does not compile (failed, not refused)
#   cmdline-string against a symbol table without cmdline_proc_show (function not in the kernel)
#   a kernel whose compiler is not installed; an invalid --name; an unknown kernel
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref "$ks" "$E2E_CONFIG"
grep -v ' cmdline_proc_show$' "$ks" > "$t/kallsyms-stripped"
check "kernel add stripped (kallsyms without cmdline_proc_show)" \
	e2e_add_kernel stripped "$t/kallsyms-stripped" "$E2E_CONFIG"
sed 's/^CONFIG_CC_VERSION_TEXT=.*/CONFIG_CC_VERSION_TEXT="gcc-99 (Nowhere 99.0.0) 99.0.0"/' \
	"$E2E_CONFIG" > "$t/config-gcc99"
check "kernel add gcc99 (built by a compiler that is not installed)" \
	e2e_add_kernel gcc99 "$ks" "$t/config-gcc99"

# the files of the prepared tree the bad patches touch, as the tarball has them
pristine=$(e2e_source_file fs/proc/cmdline.c fs/filesystems.c include/linux/seq_file.h) ||
	bail "source files extracted for comparison"

# refused KERNEL PATCH STATUS PATTERN: build exits 2 (refused) or 1 (failed), stderr matches PATTERN,
# the build row has STATUS and no artefact
refused() {
	_k=$1 _p=$2 _st=$3 _pat=$4
	_before=$(q "SELECT coalesce(max(id), 0) FROM builds")
	elp build --kernel "$_k" --patch "$patches/$_p.patch" -o "$t/$_p.ko" \
		> "$t/$_p.out" 2> "$t/$_p.err"
	_rc=$?
	# a refusal exits 2, a failure 1
	_want=1
	[ "$_st" = refused ] && _want=2
	check "$_p on $_k: exit status $_want (got $_rc)" [ "$_rc" = "$_want" ]
	if grep -q -- "$_pat" "$t/$_p.err"; then
		ok "$_p on $_k: says '$_pat'"
	else
		not_ok "$_p on $_k: says '$_pat'"
		sed 's/^/# stderr: /' "$t/$_p.err"
	fi
	check "$_p on $_k: prints no module" [ ! -s "$t/$_p.out" ]
	check "$_p on $_k: writes no -o file" [ ! -e "$t/$_p.ko" ]
	_row=$(q "SELECT status || '|' || coalesce(artefact_path, '') || '|' || coalesce(artefact_sha256, '') || '|' || (reason IS NOT NULL) FROM builds WHERE id > $_before")
	check "$_p on $_k: one '$_st' build row with a reason and no artefact (got: $_row)" \
		[ "$_row" = "$_st|||1" ]
	# what the user sees last: the build, its status and the reason (with what to do)
	_id=$(q "SELECT max(id) FROM builds")
	printf 'error: build %s %s: %s\n' "$_id" "$_st" "$(q "SELECT reason FROM builds WHERE id = $_id")" \
		> "$t/$_p.last"
	check "$_p on $_k: ends with 'error: build $_id $_st: REASON'" \
		sh -c 'tail -n "$(wc -l < "$1")" "$2" | cmp -s - "$1"' - "$t/$_p.last" "$t/$_p.err"
	check "$_p on $_k: the reason is printed once" \
		[ "$(grep -cF -- "$(q "SELECT reason FROM builds WHERE id = $_id")" "$t/$_p.err")" = 1 ]
	elp build show "$_id" > "$t/$_p.show" 2>&1
	check "$_p on $_k: build show keeps the reason" grep -q -- "^reason  *.*$_pat" "$t/$_p.show"
}

refused ref bad-header-only refused "nothing to patch"
refused ref bad-header-only refused "changes only include/linux/seq_file.h, which alters no function body"
refused ref bad-header-inline refused "(seq_show_option), which is also used by"
refused ref bad-header-inline refused "fs/ext4/super.c, .* and [0-9]* more; add them with --extra-files"
# the users are files built for this x86_64 kernel that the compiler says include seq_file.h
check "bad-header-inline: names no other architecture's file" \
	sh -c "! grep -Eq 'arch/([^x]|x[^8])' '$t/bad-header-inline.err'"
refused ref bad-not-built refused \
	"lib/test_printf.c is not built with this config (lib/Makefile builds test_printf.o only with CONFIG_TEST_PRINTF, which is not set)"
refused ref bad-comment-only refused "changes no object code"
refused ref bad-wrong-version refused "does not apply"
refused ref bad-compile-error failed "error: .saved_command_line_that_does_not_exist. undeclared"
refused stripped cmdline-string refused \
	"cmdline_proc_show: changed function does not exist in the symbol table of"

# toolchain and usage errors come before any build row
n=$(q "SELECT count(*) FROM builds")
elp build --kernel gcc99 --patch "$patches/cmdline-string.patch" > "$t/cc.out" 2> "$t/cc.err"
check "compiler mismatch: exit 1" [ $? = 1 ]
check "compiler mismatch: names the kernel's compiler" grep -q 'gcc-99 (Nowhere 99.0.0) 99.0.0' "$t/cc.err"
check "compiler mismatch: suggests --force-toolchain" grep -q -- '--force-toolchain' "$t/cc.err"
elp build --kernel ref --name 'Bad-Name' --patch "$patches/cmdline-string.patch" > /dev/null 2> "$t/name.err"
check "invalid --name: exit 1" [ $? = 1 ]
check "invalid --name: says why" grep -q "invalid module name 'Bad-Name'" "$t/name.err"
elp build --kernel nosuch --patch "$patches/cmdline-string.patch" > /dev/null 2> "$t/nosuch.err"
check "unknown kernel: exit 1" [ $? = 1 ]
check "unknown kernel: says so" grep -q "kernel 'nosuch' is not in the catalogue" "$t/nosuch.err"
elp build --kernel ref > /dev/null 2>&1
check "no --patch: usage error 129" [ $? = 129 ]
elp build --kernel ref --extra-files /etc/passwd --patch "$patches/cmdline-string.patch" > /dev/null 2> "$t/x.err"
check "--extra-files outside the tree: exit 1" [ $? = 1 ]
check "--extra-files outside the tree: says why" grep -q -- "--extra-files takes .c files" "$t/x.err"
check "no build rows for toolchain and usage errors" [ "$(q "SELECT count(*) FROM builds")" = "$n" ]
check "no artefact recorded for any refused or failed build" \
	[ "$(q "SELECT count(*) FROM builds WHERE status != 'succeeded' AND (artefact_path IS NOT NULL OR artefact_sha256 IS NOT NULL)")" = 0 ]
check "every build has a log" [ "$(q "SELECT count(*) FROM builds WHERE log_path IS NULL")" = 0 ]

# a build killed with SIGKILL is not left 'running' once its process is gone
q "INSERT INTO builds (kernel_release, module_name, inputs_sha256, status, created_at, builder_host, builder_pid) VALUES ('$E2E_RELEASE', 'elp_killed', 'x', 'running', 0, '$(hostname)', 999999999)"
# a live process named like a builder (a recycled pid of another program counts as gone)
mkdir "$t/bin" && cp "$(command -v sleep)" "$t/bin/elivepatch" && "$t/bin/elivepatch" 60 &
alive=$!
q "INSERT INTO builds (kernel_release, module_name, inputs_sha256, status, created_at, builder_host, builder_pid) VALUES ('$E2E_RELEASE', 'elp_alive', 'y', 'running', 0, '$(hostname)', $alive)"
elp build --kernel ref --patch "$patches/bad-comment-only.patch" > /dev/null 2>&1
check "a 'running' build whose process is gone is marked failed: interrupted" \
	[ "$(q "SELECT status || ':' || reason FROM builds WHERE module_name = 'elp_killed'")" = "failed:interrupted" ]
check "a 'running' build whose process lives stays running" \
	[ "$(q "SELECT status FROM builds WHERE module_name = 'elp_alive'")" = running ]
kill "$alive"
q "DELETE FROM builds WHERE module_name = 'elp_alive'"
check "builds record their host and pid" \
	[ "$(q "SELECT count(*) FROM builds WHERE builder_host = '$(hostname)' AND builder_pid > 0 AND module_name != 'elp_killed'")" -gt 0 ]
check "the record stage is timed" \
	[ "$(q "SELECT count(*) FROM build_stages WHERE stage = 'record'")" -gt 0 ]

# the shared prepared tree is pristine after all of that
# tree_file_pristine ORIG TREE REL: REL in TREE is ORIG, or is not extracted yet and listed as
# pending in a partial tree (a build extracts it from the tarball when it needs it)
tree_file_pristine() {
	if [ -e "$2/$3" ]; then
		cmp -s "$1" "$2/$3" && return
		diff -u "$1" "$2/$3" | head -n 20 | sed 's/^/# /'
		return 1
	fi
	grep -qxF "$3" "${2%/linux}/pending" 2>/dev/null && return
	echo "# $2/$3 is missing and not pending"
	return 1
}
trees=$(ls -d "$ELIVEPATCH_CACHE"/trees/*/linux 2>/dev/null)
[ -n "$trees" ] || not_ok "a prepared tree in $ELIVEPATCH_CACHE/trees"
for tree in $trees; do
	[ -f "${tree%/linux}/prepared" ] || continue
	# a tree with out-of-tree patches (t-build-oot.sh) differs by design
	grep -q '^out-of-tree ' "${tree%/linux}/prepared" && continue
	# hold the tree's lock, as a build does: another build may be using it
	exec 9> "${tree%/linux}.lock"
	flock 9
	for f in $pristine; do
		rel=${f#"$E2E_DIR/src/"}
		check "prepared tree: $rel is pristine" tree_file_pristine "$f" "$tree" "$rel"
	done
	check "prepared tree: no journal left" [ ! -e "${tree%/linux}/journal" ]
	exec 9>&-
done
t_done
