# End-to-end test harness: the reference kernel in qemu (TCG), busybox initramfs.
# shellcheck shell=sh
#
# Source it after tests/lib.sh, from a test script in tests/e2e/:
#     . "$(dirname "$0")/../lib.sh"; . "$(dirname "$0")/lib.sh"
# (set E2E_LIB_DIR to this directory if the script lives elsewhere).
#
# Host functions
#   e2e_kernel                  fetch/unpack the reference kernel once (fetch-kernel.sh) and set
#                               and export E2E_DIR (cache dir), E2E_RELEASE, E2E_VMLINUZ,
#                               E2E_CONFIG, E2E_HEADERS (for `make -C "$E2E_HEADERS" M=DIR
#                               modules`), E2E_SOURCE_TARBALL, E2E_MODULES (lib/modules/REL).
#                               Returns non-zero if the kernel cannot be fetched.
#   e2e_source_file PATH...     extract PATH (relative to the top of the source tree, e.g.
#                               samples/livepatch/livepatch-sample.c) from E2E_SOURCE_TARBALL
#                               once into E2E_DIR/src/ and print the cached path, one a line.
#   e2e_module_file NAME        print the path of module NAME of the reference kernel
#                               (under E2E_MODULES; may be .ko.xz in general, .ko for 6.1).
#   e2e_tmpdir                  create E2E_TMP under ${TMPDIR:-/tmp}, removed on exit
#                               (kept and printed if E2E_KEEP=1). Sets an EXIT trap.
#   e2e_initramfs OUT.cpio.gz INIT_SCRIPT [FILE...]
#                               build a gzip newc initramfs: static busybox, the standard
#                               guest preamble as /init, INIT_SCRIPT run by it (sourced in a
#                               subshell, cwd /root, so the guest helpers below are available),
#                               each FILE copied to /root/<basename>.
#                               Env E2E_GUEST_MODULES="name ...": modules of the reference
#                               kernel (with their dependencies from modules.dep) installed at
#                               /lib/modules/$E2E_RELEASE/ with a fresh modules.dep, so that
#                               `modprobe name` works in the guest. Compressed modules
#                               (.ko.xz/.ko.gz/.ko.zst) are decompressed on the host (busybox
#                               insmod does not decompress); the 6.1 package ships plain .ko.
#   e2e_boot INITRD LOG [TIMEOUT_S]
#                               boot E2E_VMLINUZ with INITRD in qemu-system-x86_64 -accel tcg,
#                               serial console into LOG, under timeout (default 60 s).
#                               Cmdline: "console=ttyS0 quiet panic=-1 $E2E_APPEND".
#                               Env E2E_QEMU_MEM (default 512M), E2E_QEMU_OPTS (extra words).
#                               Returns 0 if the guest reached the end of the preamble
#                               ("E2E-END" in LOG) and qemu exited by itself, 124 if qemu
#                               timed out, 1 otherwise (e.g. guest panic).
#   e2e_result LOG NAME         print VALUE of the last "E2E-RESULT NAME VALUE" line of LOG;
#                               non-zero if there is none.
#   e2e_check_result DESC LOG NAME EXPECTED
#                               one TAP line: the guest's NAME result equals EXPECTED.
#   e2e_guest_dmesg_ok LOG [ALLOW_ERE]
#                               the one check of a guest run's log, for every boot: non-zero
#                               (offending lines on stderr) if LOG shows Oops, BUG:, WARNING:,
#                               Call Trace, general protection fault, kernel BUG at, Kernel
#                               panic, an RCU stall, a hung task, "livepatch: failed" or the
#                               guest helpers' E2E-TIMEOUT (a transition that never finished).
#                               Lines matching ALLOW_ERE (grep -E) are not counted: a test
#                               that expects a message names it there. The preamble dumps the
#                               guest's dmesg into LOG at the end (console output is `quiet`).
#   e2e_kallsyms                print the path of E2E_DIR/kallsyms, the reference kernel's
#                               /proc/kallsyms ("ADDR TYPE NAME", address order, non-zero
#                               addresses except type-A per-cpu offsets such as
#                               __per_cpu_start; booted with nokaslr so addresses are link-time
#                               addresses as in System.map). Made once by booting the kernel.
#
# Guest side (the INIT_SCRIPT runs after this preamble, with PATH=/bin, cwd /root)
#   proc, sysfs, devtmpfs mounted; kptr_restrict=0.
#   e2e_result NAME VALUE...    print "E2E-RESULT NAME VALUE..." on the console.
#   e2e_lp_wait NAME [TIMEOUT_S] wait until /sys/kernel/livepatch/NAME/transition is 0 or
#                               /sys/kernel/livepatch/NAME is gone (a disabled patch is freed,
#                               often before this is called); default 30 s. Returns 1 (and
#                               prints "E2E-TIMEOUT ...") on timeout. It does not tell whether
#                               the patch exists: after insmod, check NAME/enabled too.
#   e2e_lp_on MODULE [TIMEOUT_S] insmod /root/MODULE.ko and wait: results MODULE_insmod
#                               (status) and MODULE_enabled (the sysfs value, or "timeout"
#                               when the transition did not finish); non-zero on failure.
#   e2e_lp_off MODULE           disable, wait, rmmod: result MODULE_rmmod (status, or
#                               "timeout" when the transition back did not finish).
#   e2e_lp_traced MODULE        print "C of N": of the N functions MODULE patched (read from
#                               sysfs by e2e_lp_on), C are redirected by ftrace now
#                               (enabled_functions): N while enabled, 0 after e2e_lp_off.
#                               Host side: e2e_check_traced DESC LOG NAME on|off.
#   e2e_lp_run MODULE CMD...    CMD's output before, with and after MODULE, as the results
#                               MODULE_before, MODULE_on, MODULE_off.
#   After the script: "E2E-DMESG-BEGIN", dmesg, "E2E-DMESG-END", "E2E-END <status>",
#   then poweroff -f.

E2E_LIB_DIR=${E2E_LIB_DIR:-$(cd "$(dirname "$0")" && pwd)}

_e2e_log() { printf '# e2e: %s\n' "$*" >&2; }

e2e_kernel() {
	[ -n "${_e2e_kernel_done:-}" ] && return 0
	if [ ! -x "$E2E_LIB_DIR/fetch-kernel.sh" ] && [ ! -f "$E2E_LIB_DIR/fetch-kernel.sh" ]; then
		_e2e_log "no fetch-kernel.sh in $E2E_LIB_DIR (set E2E_LIB_DIR)"
		return 1
	fi
	E2E_DIR=$(sh "$E2E_LIB_DIR/fetch-kernel.sh") || { _e2e_log "fetch-kernel.sh failed"; return 1; }
	[ -d "$E2E_DIR" ] || { _e2e_log "fetch-kernel.sh printed no directory"; return 1; }
	E2E_RELEASE=$(cat "$E2E_DIR/release") || return 1
	E2E_VMLINUZ=$E2E_DIR/root/boot/vmlinuz-$E2E_RELEASE
	E2E_CONFIG=$E2E_DIR/root/boot/config-$E2E_RELEASE
	E2E_HEADERS=$E2E_DIR/headers
	E2E_SOURCE_TARBALL=$E2E_DIR/source.tar.xz
	E2E_MODULES=$E2E_DIR/root/lib/modules/$E2E_RELEASE
	export E2E_DIR E2E_RELEASE E2E_VMLINUZ E2E_CONFIG E2E_HEADERS E2E_SOURCE_TARBALL E2E_MODULES
	for _f in "$E2E_VMLINUZ" "$E2E_CONFIG" "$E2E_HEADERS/Makefile" "$E2E_SOURCE_TARBALL"; do
		[ -e "$_f" ] || { _e2e_log "missing $_f"; return 1; }
	done
	_e2e_fix_headers || return 1
	# kernels are registered with this modules tree (--modules), which needs modules.dep
	_e2e_modules_dep || return 1
	_e2e_kernel_done=1
}

# The headers package's Makefile includes /usr/src/linux-headers-REL-common/Makefile by
# absolute path; unpacked with dpkg -x that file is in the cache, not in /usr/src. Point the
# include at the cache copy so that `make -C "$E2E_HEADERS" M=DIR modules` works.
_e2e_fix_headers() {
	_mk=$E2E_HEADERS/Makefile
	_inc=$(sed -n 's/^include \(\/usr\/src\/.*\)$/\1/p' "$_mk" | head -n1)
	[ -n "$_inc" ] || return 0
	[ -e "$_inc" ] && return 0
	_local=$E2E_DIR/root$_inc
	[ -e "$_local" ] || { _e2e_log "headers Makefile includes $_inc, not found"; return 1; }
	sed "s|^include $_inc\$|include $_local|" "$_mk" > "$_mk.tmp.$$" && mv -f "$_mk.tmp.$$" "$_mk"
}

e2e_source_file() {
	e2e_kernel || return 1
	_top=$(basename "$(readlink -f "$E2E_SOURCE_TARBALL")" .tar.xz)
	_need=
	for _p in "$@"; do
		[ -f "$E2E_DIR/src/$_p" ] || _need="$_need $_p"
	done
	if [ -n "$_need" ]; then
		_x=$(mktemp -d "$E2E_DIR/src-tmp.XXXXXX") || return 1
		_members=
		for _p in $_need; do _members="$_members $_top/$_p"; done
		# shellcheck disable=SC2086 # word splitting of the member list is wanted
		if ! tar -xJf "$E2E_SOURCE_TARBALL" -C "$_x" --occurrence=1 $_members; then
			_e2e_log "cannot extract$_need from $E2E_SOURCE_TARBALL"
			rm -rf "$_x"; return 1
		fi
		for _p in $_need; do
			if ! mkdir -p "$(dirname "$E2E_DIR/src/$_p")" ||
				! mv -f "$_x/$_top/$_p" "$E2E_DIR/src/$_p"; then
				rm -rf "$_x"; return 1
			fi
		done
		rm -rf "$_x"
	fi
	for _p in "$@"; do printf '%s\n' "$E2E_DIR/src/$_p"; done
}

# modules.dep of the unpacked image (dpkg -x does not run depmod): made once.
_e2e_modules_dep() {
	[ -s "$E2E_MODULES/modules.dep" ] && return 0
	depmod -b "$E2E_DIR/root" "$E2E_RELEASE" || { _e2e_log "depmod failed"; return 1; }
}

# _e2e_dep_line NAME: the modules.dep line of module NAME ("path: dep dep ...")
_e2e_dep_line() {
	_e2e_modules_dep || return 1
	awk -v want="$1" '
		BEGIN { gsub(/-/, "_", want) }
		{ p = $1; sub(/:$/, "", p); n = p; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n)
		  gsub(/-/, "_", n); if (n == want) { print; found = 1; exit } }
		END { exit !found }' "$E2E_MODULES/modules.dep"
}

e2e_module_file() {
	e2e_kernel || return 1
	_l=$(_e2e_dep_line "$1") || { _e2e_log "no module $1 in $E2E_MODULES"; return 1; }
	printf '%s/%s\n' "$E2E_MODULES" "${_l%%:*}"
}

e2e_tmpdir() {
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/elivepatch-e2e.XXXXXX") || return 1
	export E2E_TMP
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		trap '_e2e_log "kept $E2E_TMP"' EXIT
	else
		trap 'rm -rf "$E2E_TMP"' EXIT
	fi
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# The standard /init: preamble, then the test's script, then dmesg and poweroff.
_e2e_preamble() {
	cat <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /tmp /dev/pts
echo 0 > /proc/sys/kernel/kptr_restrict

e2e_result() {
	_n=$1; shift
	printf 'E2E-RESULT %s %s\n' "$_n" "$*"
}

e2e_lp_wait() {
	_d=/sys/kernel/livepatch/$1
	_n=$(( ${2:-30} * 10 ))
	while [ "$_n" -gt 0 ]; do
		[ -d "$_d" ] || return 0
		[ "$(cat "$_d/transition" 2>/dev/null)" = 0 ] && return 0
		usleep 100000
		_n=$((_n - 1))
	done
	echo "E2E-TIMEOUT e2e_lp_wait $1"
	return 1
}

# e2e_lp_traced MODULE: how many of MODULE's patched functions (listed by e2e_lp_on) ftrace
# redirects now; 0 once the patch is gone
e2e_lp_traced() {
	_ef=/sys/kernel/tracing/enabled_functions
	[ -f $_ef ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	_c=0 _n=0
	for _f in $(cat "/tmp/e2e-lp-$1.funcs" 2>/dev/null); do
		_n=$((_n + 1))
		grep -q "^$_f[ 	]" $_ef 2>/dev/null && _c=$((_c + 1))
	done
	echo "$_c of $_n"
}

# e2e_lp_on MODULE / e2e_lp_off MODULE: load /root/MODULE.ko and wait for the
# transition; disable, wait and unload.  Each reports its steps as results; a transition
# that does not finish is the result "timeout", which the host's checks fail on.
e2e_lp_on() {
	insmod "/root/$1.ko"
	_rc=$?
	e2e_result "${1}_insmod" $_rc
	[ $_rc = 0 ] || return $_rc
	if ! e2e_lp_wait "$1" "${2:-30}"; then
		e2e_result "${1}_enabled" timeout
		return 1
	fi
	e2e_result "${1}_enabled" "$(cat "/sys/kernel/livepatch/$1/enabled" 2>/dev/null)"
	for _d in /sys/kernel/livepatch/"$1"/*/*/; do
		[ -d "$_d" ] || continue
		_d=${_d%/}; _d=${_d##*/}
		echo "${_d%,*}"
	done > "/tmp/e2e-lp-$1.funcs"
	return 0
}
e2e_lp_off() {
	echo 0 > "/sys/kernel/livepatch/$1/enabled"
	if ! e2e_lp_wait "$1" 30; then
		e2e_result "${1}_rmmod" timeout
		return 1
	fi
	rmmod "$1"
	_rc=$?
	e2e_result "${1}_rmmod" $_rc
	return $_rc
}

# e2e_lp_run MODULE CMD...: CMD's output before, with and after the livepatch, as the
# results MODULE_before, MODULE_on and MODULE_off (nothing when MODULE.ko is absent)
e2e_lp_run() {
	_m=$1; shift
	[ -f "/root/$_m.ko" ] || return 0
	e2e_result "${_m}_before" "$("$@" 2>&1)"
	e2e_lp_on "$_m"
	e2e_result "${_m}_on" "$("$@" 2>&1)"
	e2e_lp_off "$_m"
	e2e_result "${_m}_off" "$("$@" 2>&1)"
}

echo "E2E-BEGIN $(uname -r)"
cd /root
( . /e2e/test.sh )
_rc=$?
echo "E2E-DMESG-BEGIN"
dmesg
echo "E2E-DMESG-END"
echo "E2E-END $_rc"
sync
poweroff -f
EOF
}

_e2e_check_busybox() {
	[ -x /bin/busybox ] || { _e2e_log "no /bin/busybox (apt-get install busybox-static)"; return 1; }
	if command -v readelf >/dev/null 2>&1 &&
		readelf -l /bin/busybox 2>/dev/null | grep -q 'program interpreter'; then
		_e2e_log "/bin/busybox is not static (apt-get install busybox-static)"
		return 1
	fi
}

# _e2e_copy_module SRC DST.ko: copy, decompressing .ko.xz/.ko.gz/.ko.zst
_e2e_copy_module() {
	mkdir -p "$(dirname "$2")" || return 1
	case $1 in
	*.ko.xz) xz -dc "$1" > "$2" ;;
	*.ko.gz) gzip -dc "$1" > "$2" ;;
	*.ko.zst) zstd -qdc "$1" > "$2" ;;
	*) cp "$1" "$2" ;;
	esac
}

e2e_initramfs() {
	[ $# -ge 2 ] || { _e2e_log "usage: e2e_initramfs OUT.cpio.gz INIT_SCRIPT [FILE...]"; return 1; }
	_out=$1 _init=$2; shift 2
	_e2e_check_busybox || return 1
	[ -f "$_init" ] || { _e2e_log "no init script $_init"; return 1; }
	_s=$(mktemp -d "${TMPDIR:-/tmp}/elivepatch-initramfs.XXXXXX") || return 1
	if ! mkdir -p "$_s/bin" "$_s/dev" "$_s/proc" "$_s/sys" "$_s/tmp" "$_s/root" "$_s/e2e" ||
		! cp /bin/busybox "$_s/bin/busybox" ||
		! _e2e_preamble > "$_s/init" || ! chmod 755 "$_s/init" ||
		! cp "$_init" "$_s/e2e/test.sh"; then
		rm -rf "$_s"; return 1
	fi
	mknod "$_s/dev/console" c 5 1 2>/dev/null || :
	for _f in "$@"; do
		cp "$_f" "$_s/root/" || { rm -rf "$_s"; return 1; }
	done
	if [ -n "${E2E_GUEST_MODULES:-}" ]; then
		_e2e_guest_modules "$_s" || { rm -rf "$_s"; return 1; }
	fi
	# shellcheck disable=SC2030,SC2031 # subshell on purpose
	if ! (cd "$_s" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 > "$_out"; then
		_e2e_log "cpio failed"; rm -rf "$_s"; return 1
	fi
	rm -rf "$_s"
}

_e2e_guest_modules() {
	e2e_kernel || return 1
	_gm=$1/lib/modules/$E2E_RELEASE
	for _m in $E2E_GUEST_MODULES; do
		_l=$(_e2e_dep_line "$_m") || {
			_e2e_log "E2E_GUEST_MODULES: no module $_m in $E2E_MODULES"; return 1; }
		for _p in $_l; do
			_p=${_p%:}
			_d=$_gm/${_p%.ko*}.ko
			[ -f "$_d" ] && continue
			_e2e_copy_module "$E2E_MODULES/$_p" "$_d" || return 1
			printf '%s\n' "${_p%.ko*}.ko" >> "$_gm/modules.order"
		done
	done
	for _f in modules.builtin modules.builtin.modinfo; do
		[ -f "$E2E_MODULES/$_f" ] && cp "$E2E_MODULES/$_f" "$_gm/"
	done
	depmod -b "$1" "$E2E_RELEASE" || { _e2e_log "depmod of the guest modules failed"; return 1; }
}

e2e_boot() {
	[ $# -ge 2 ] || { _e2e_log "usage: e2e_boot INITRD LOG [TIMEOUT_S]"; return 1; }
	e2e_kernel || return 1
	_t0=$(date +%s)
	# shellcheck disable=SC2086 # E2E_QEMU_OPTS is a list of words
	timeout -k 5 "${3:-60}" qemu-system-x86_64 -accel tcg -m "${E2E_QEMU_MEM:-512M}" -smp 1 \
		-nographic -no-reboot -nic none \
		-kernel "$E2E_VMLINUZ" -initrd "$1" \
		-append "console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}" \
		${E2E_QEMU_OPTS:-} < /dev/null > "$2" 2>&1
	_rc=$?
	_e2e_log "boot: $(($(date +%s) - _t0)) s, qemu status $_rc"
	if [ "$_rc" = 124 ] || [ "$_rc" = 137 ]; then
		_e2e_log "qemu timed out after ${3:-60} s (log: $2)"
		return 124
	fi
	[ "$_rc" = 0 ] || return 1
	tr -d '\r' < "$2" | grep -q '^E2E-END ' || { _e2e_log "guest did not finish (log: $2)"; return 1; }
}

e2e_result() {
	tr -d '\r' < "$1" | awk -v want="$2" '
		$1 == "E2E-RESULT" && $2 == want {
			v = $0; sub(/^E2E-RESULT [^ ]*( |$)/, "", v); last = v; found = 1 }
		END { if (found) print last; exit !found }'
}

e2e_check_result() {
	_got=$(e2e_result "$2" "$3") || _got="<no E2E-RESULT $3>"
	if [ "$_got" = "$4" ]; then
		ok "$1"
	else
		not_ok "$1"
		printf '#   expected: %s\n#        got: %s\n' "$4" "$_got"
	fi
}

E2E_GUEST_BAD='Oops|BUG:|WARNING:|Call Trace|general protection fault|kernel BUG at|Kernel panic'
E2E_GUEST_BAD="$E2E_GUEST_BAD|rcu: INFO: .*detected stall|rcu_.*self-detected stall|blocked for more than [0-9]+ seconds"
E2E_GUEST_BAD="$E2E_GUEST_BAD|livepatch: failed|E2E-TIMEOUT"

# e2e_check_traced DESC LOG NAME on|off: the guest's e2e_lp_traced result NAME says every
# patched function is redirected (on), or none of at least one (off)
e2e_check_traced() {
	_got=$(e2e_result "$2" "$3") || _got="<no E2E-RESULT $3>"
	_c=${_got%% of *} _n=${_got##* of }
	case $4:$_got in
	on:[1-9]*" of "[1-9]*) [ "$_c" = "$_n" ] && { ok "$1"; return 0; } ;;
	off:"0 of "[1-9]*) ok "$1"; return 0 ;;
	esac
	not_ok "$1"
	printf '#   expected: %s\n#        got: %s\n' "$4 (C of N, C = $([ "$4" = on ] && echo N || echo 0))" "$_got"
}

e2e_guest_dmesg_ok() {
	[ -f "$1" ] || { _e2e_log "no log $1"; return 1; }
	# lines of pure base64 (kallsyms dumps) are not messages
	_bad=$(tr -d '\r' < "$1" | grep -Ev '^[A-Za-z0-9+/=]+$' | grep -E "$E2E_GUEST_BAD")
	if [ -n "$_bad" ] && [ -n "${2:-}" ]; then
		_bad=$(printf '%s\n' "$_bad" | grep -Ev -- "$2")
	fi
	[ -z "$_bad" ] && return 0
	printf '%s\n' "$_bad" | sed 's/^/# guest: /' >&2
	return 1
}

e2e_kallsyms() {
	e2e_kernel || return 1
	_ks=$E2E_DIR/kallsyms
	if [ -s "$_ks" ]; then printf '%s\n' "$_ks"; return 0; fi
	_k=$(mktemp -d "${TMPDIR:-/tmp}/elivepatch-kallsyms.XXXXXX") || return 1
	cat > "$_k/init.sh" <<'EOF'
echo E2E-KALLSYMS-BEGIN
cat /proc/kallsyms | gzip -c | base64
echo E2E-KALLSYMS-END
EOF
	_append=${E2E_APPEND:-}
	E2E_APPEND="nokaslr${_append:+ $_append}"
	_ok=1
	if ! e2e_initramfs "$_k/initrd.gz" "$_k/init.sh" || ! e2e_boot "$_k/initrd.gz" "$_k/log" 180; then
		_ok=0
	fi
	E2E_APPEND=$_append
	if [ "$_ok" = 0 ]; then
		cp "$_k/log" "$E2E_DIR/kallsyms.log" 2>/dev/null
		_e2e_log "kallsyms boot failed (log: $E2E_DIR/kallsyms.log)"
		rm -rf "$_k"; return 1
	fi
	tr -d '\r' < "$_k/log" | sed -n '/^E2E-KALLSYMS-BEGIN$/,/^E2E-KALLSYMS-END$/p' | sed '1d;$d' |
		base64 -d | gzip -dc > "$_k/kallsyms"
	# sanity: many "ADDR TYPE NAME" lines, no zero addresses (but per-cpu symbols are
	# absolute offsets, type A, and __per_cpu_start is 0)
	if ! awk '
		$1 !~ /^[0-9a-f]+$/ || length($1) != 16 || $2 !~ /^[A-Za-z]$/ || $3 == "" { bad++ }
		$1 ~ /^0+$/ && $2 != "A" { zero++ }
		END { exit !(NR > 50000 && bad == 0 && zero == 0) }' "$_k/kallsyms"; then
		cp "$_k/log" "$E2E_DIR/kallsyms.log" 2>/dev/null
		_e2e_log "kallsyms dump is not sane (log: $E2E_DIR/kallsyms.log)"
		rm -rf "$_k"; return 1
	fi
	if ! mv -f "$_k/kallsyms" "$_ks.tmp.$$" || ! mv -f "$_ks.tmp.$$" "$_ks"; then
		rm -rf "$_k"; return 1
	fi
	rm -rf "$_k"
	printf '%s\n' "$_ks"
}

# --- tests that run `elivepatch build` ------------------------------------------------------
# e2e_build_setup: the binary ($ELIVEPATCH, default the tree's build/elivepatch), the shared
# prepared-tree cache ($ELIVEPATCH_CACHE), the reference kernel and its kallsyms ($ks), the
# test patches ($patches), a temp dir ($t) and a catalogue in it ($db, used by elp and q).
# Bails out (a failed test) when any of it is missing.
e2e_build_setup() {
	ELIVEPATCH=${ELIVEPATCH:-$E2E_LIB_DIR/../../build/elivepatch}
	ELIVEPATCH_CACHE=${ELIVEPATCH_CACHE:-/var/cache/elivepatch-test/cache}
	ELIVEPATCH_DATADIR=${ELIVEPATCH_DATADIR:-$(cd "$E2E_LIB_DIR/../../data" && pwd)}
	export ELIVEPATCH_CACHE ELIVEPATCH_DATADIR
	patches=$E2E_LIB_DIR/patches
	[ -x "$ELIVEPATCH" ] || bail "elivepatch binary at $ELIVEPATCH (make)"
	e2e_kernel || bail "reference kernel available (tests/e2e/fetch-kernel.sh)"
	ks=$(e2e_kallsyms) || bail "kallsyms of the reference kernel"
	e2e_tmpdir || bail "temp dir"
	t=$E2E_TMP
	db=$t/catalogue.db
}

elp() { "$ELIVEPATCH" --db "$db" "$@"; }
q() { sqlite3 "$db" "$@"; }

# e2e_add_kernel NAME [SYMBOLS [CONFIG]]: the reference kernel under NAME in the catalogue,
# from its source tarball (the same tree key for every test, so the prepared tree is shared)
e2e_add_kernel() {
	elp kernel add --name "$1" --release "$E2E_RELEASE" --source "$E2E_SOURCE_TARBALL" \
		--config "${3:-$E2E_CONFIG}" --build "$E2E_HEADERS" --modules "$E2E_DIR/root" \
		--symbols "${2:-$ks}" \
		> "$t/add.log" 2>&1 || { sed 's/^/# /' "$t/add.log"; return 1; }
}

# --- tests that run elivepatch in the guest (t-lifecycle*.sh) --------------------------------
# e2e_sample_livepatches DIR [FIXTURE...]: the kernel's livepatch sample, a cumulative variant
# of it (another string, .replace = true) and each fixtures/FIXTURE.c built against the
# headers in $t/mod (one TAP line), each .ko copied to DIR. Bails out when they do not build.
e2e_sample_livepatches() {
	_dir=$1; shift
	_sample=$(e2e_source_file samples/livepatch/livepatch-sample.c) || bail "livepatch-sample.c"
	mkdir -p "$t/mod" "$_dir"
	cp "$_sample" "$t/mod/livepatch-sample.c"
	sed -e 's/"this has been live patched"/"this has been live patched (cumulative)"/' \
		-e 's/^\(\t*\)\.objs = objs,$/&\n\1.replace = true,/' \
		"$_sample" > "$t/mod/livepatch-cumulative.c"
	grep -q 'replace = true' "$t/mod/livepatch-cumulative.c" || bail "cumulative variant of the sample"
	_objs="livepatch-sample.o livepatch-cumulative.o"
	for _f; do
		cp "$E2E_LIB_DIR/fixtures/$_f.c" "$t/mod/" || bail "$_f.c"
		_objs="$_objs $_f.o"
	done
	printf 'obj-m += %s\n' "$_objs" > "$t/mod/Kbuild"
	if make -C "$E2E_HEADERS" M="$t/mod" modules > "$t/build.log" 2>&1; then
		ok "the sample livepatches build against the headers"
	else
		tail -n 20 "$t/build.log" | sed 's/^/# /'
		bail "the sample livepatches build against the headers"
	fi
	for _m in livepatch-sample livepatch-cumulative "$@"; do
		cp "$t/mod/$_m.ko" "$_dir/" || bail "module $_m"
	done
}

# e2e_guest_elivepatch BINARY DIR INIT: BINARY and its shared libraries copied to DIR (the
# guest's /root), and the guest script INIT begun with E ARGS... (BINARY on
# /root/catalogue.db, through the dynamic loader) and run NAME ARGS... (E's status as the
# result NAME, its output as E2E-OUT lines: e2e_has_out). Bails out when a file is missing.
e2e_guest_elivepatch() {
	cp "$1" "$2/elivepatch" || bail "binary copied"
	_libs=$(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }')
	for _l in $_libs; do cp -L "$_l" "$2/" || bail "library $_l"; done
	_ldso=$(basename "$(ldd "$1" | awk '$1 ~ /^\/.*ld-linux/ { print $1 }')")
	[ -n "$_ldso" ] || bail "dynamic loader of $1"
	cat > "$3" <<EOF
E() { /root/$_ldso --library-path /root /root/elivepatch --db /root/catalogue.db "\$@"; }
EOF
	cat >> "$3" <<'EOF'
# run NAME ARGS...: the command's status, and its output as E2E-OUT lines
run() {
	_n=$1; shift
	E "$@" > /tmp/out 2>&1
	e2e_result "$_n" $?
	sed "s/^/E2E-OUT $_n: /" /tmp/out
}
EOF
}

# e2e_out LOG NAME: the output of the guest's `run NAME`
e2e_out() { tr -d '\r' < "$1" | sed -n "s/^E2E-OUT $2: //p"; }
# e2e_has_out DESC LOG NAME PATTERN: one TAP line: that output matches PATTERN (grep), else
# the output as comments; e2e_hasnt_out: it does not match
e2e_has_out() {
	if e2e_out "$2" "$3" | grep -q -- "$4"; then ok "$1"; else
		not_ok "$1"; e2e_out "$2" "$3" | sed 's/^/#   /'; fi
}
e2e_hasnt_out() {
	if e2e_out "$2" "$3" | grep -q -- "$4"; then
		not_ok "$1"; e2e_out "$2" "$3" | sed 's/^/#   /'; else ok "$1"; fi
}

# e2e_show_log LOG [ERE]: when a check failed or E2E_KEEP=1, the lines of LOG that match ERE
# (default: the guest's E2E- lines) as comments
e2e_show_log() {
	if [ "${_t_failed:-0}" != 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
		tr -d '\r' < "$1" | grep -E "${2:-^E2E-}" | sed 's/^/# /'
	fi
}

# --- tests that build many patches and run them in one guest (t-engine-*.sh) ----------------
# e2e_build_patches KIND "P..." [BUILD-OPTION...]: `elivepatch --json build` of each
# patches/KIND-P.patch for kernel ref into $t/elp_KIND_P.ko (P's - as _), its JSON in
# $t/P.json; one TAP line each, with the time it took. Sets E2E_MODS to the modules built.
e2e_build_patches() {
	_kind=$1 _all=$2; shift 2
	E2E_MODS=
	for _p in $_all; do
		_m=elp_${_kind}_$(echo "$_p" | tr '-' '_')
		_t0=$(date +%s)
		if elp --json build --kernel ref "$@" --patch "$patches/$_kind-$_p.patch" \
			-o "$t/$_m.ko" > "$t/$_p.json" 2> "$t/$_p.err"; then
			ok "build $_p ($(($(date +%s) - _t0)) s)"
			E2E_MODS="$E2E_MODS $_m"
		else
			not_ok "build $_p"
			sed 's/^/# /' "$t/$_p.err"
		fi
	done
}

# e2e_built MODULE: e2e_build_patches built MODULE
e2e_built() {
	case " $E2E_MODS " in *" $1 "*) return 0 ;; esac
	return 1
}

# e2e_functions P: "object:function" of each function of the build of P ($t/P.json),
# sorted, each followed by a space
e2e_functions() {
	grep -o '"object":"[^"]*","function":"[^"]*"' "$t/$1.json" |
		sed 's/"object":"//; s/","function":"/:/; s/"$//' | sort | tr '\n' ' '
}

# e2e_fn_is P EXPECTED DESC: one TAP line: the functions of P's build are EXPECTED
e2e_fn_is() {
	if [ "$(e2e_functions "$1")" = "$2" ]; then ok "$1: $3"; else
		not_ok "$1: $3"
		printf '#   expected: %s\n#        got: %s\n' "$2" "$(e2e_functions "$1")"
	fi
}

# e2e_boot_modules TIMEOUT: an initramfs of $t/init.sh and the modules of E2E_MODS (with the
# kernel's E2E_GUEST_MODULES), booted within TIMEOUT s into $t/boot.log: two TAP lines, and
# the boot's time as a comment
e2e_boot_modules() {
	_files=
	for _m in $E2E_MODS; do _files="$_files $t/$_m.ko"; done
	# shellcheck disable=SC2086 # list of files
	check "initramfs with the modules" e2e_initramfs "$t/initrd.gz" "$t/init.sh" $_files
	_t0=$(date +%s)
	check "the reference kernel boots and runs the checks" e2e_boot "$t/initrd.gz" "$t/boot.log" "$1"
	# shellcheck disable=SC2086 # counted by words
	printf '# boot with %s modules: %s s\n' "$(echo $E2E_MODS | wc -w)" "$(($(date +%s) - _t0))"
}

# e2e_check_lp_loaded DESC LOG MODULE: three TAP lines: in the guest, MODULE was loaded,
# enabled and unloaded (e2e_lp_on, e2e_lp_off)
e2e_check_lp_loaded() {
	e2e_check_result "$1 loads" "$2" "${3}_insmod" 0
	e2e_check_result "$1 is enabled" "$2" "${3}_enabled" 1
	e2e_check_result "$1 unloads" "$2" "${3}_rmmod" 0
}

# e2e_check_lp_run DESC LOG MODULE BEFORE ON: the guest's e2e_lp_run MODULE: loaded, enabled
# and unloaded, its command printed BEFORE before and after MODULE, ON with it; nothing when
# e2e_build_patches did not build MODULE
e2e_check_lp_run() {
	e2e_built "$3" || return 0
	e2e_check_lp_loaded "$1" "$2" "$3"
	e2e_check_result "$1: before" "$2" "${3}_before" "$4"
	e2e_check_result "$1: patched" "$2" "${3}_on" "$5"
	e2e_check_result "$1: disabled" "$2" "${3}_off" "$4"
}
