#!/bin/sh
# e2e: more shapes of fixes, built with `elivepatch build` and run in one guest of the
# reference kernel (tests/e2e/patches/shape-*.patch):
#   two-objects         one livepatch for vmlinux (version_proc_show) and can.ko
#                       (can_stats_proc_show): can loaded after the livepatch, then before it
#   module-static       can.ko: a new static local in can_reset_stats_proc_show and new
#                       static data of the module object read by can_stats_proc_show
#   global-helper       a new global function of uptime.c (inlined into uptime_proc_show)
#                       also called from array.c's proc_pid_status, where it replaces the
#                       only call of the (inlined) static task_cap, which becomes unused
#   header-inline       a static inline of fs/proc/fd.h used only by fs/proc/fd.c changes
#                       together with fd.c: its three users are patched
#   static-local-shift  drop_caches_sysctl_handler (reached through ctl_table.proc_handler)
#                       gets a second static local: stfu stays the kernel's stfu.N
#   exported            __get_task_comm, an EXPORT_SYMBOL_GPL function
#   module-callbacks    callbacks and a shadow variable on the can object
#   cumulative          A (cmdline-string) applied, then a cumulative B that adds
#                       module-static: B replaces A and patches vmlinux and can
#   bad-*               refused with their reason: a global's initial value, a module's
#                       __exit function, the layout of a file-local struct with a static
#                       instance
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref

# functions PATCH: "object:function" of a build's JSON, in order, space separated
functions() {
	grep -o '"object":"[^"]*","function":"[^"]*"' "$t/$1.json" |
		sed 's/"object":"//; s/","function":"/:/; s/"$//' | sort | tr '\n' ' '
}

all="two-objects module-static global-helper header-inline static-local-shift exported
	module-callbacks"
mods=
for p in $all; do
	m=elp_shape_$(echo "$p" | tr '-' '_')
	t0=$(date +%s)
	if elp --json build --kernel ref --no-cumulative --patch "$patches/shape-$p.patch" \
		-o "$t/$m.ko" > "$t/$p.json" 2> "$t/$p.err"; then
		ok "build $p ($(($(date +%s) - t0)) s)"
		mods="$mods $m"
	else
		not_ok "build $p"
		sed 's/^/# /' "$t/$p.err"
	fi
done
fn_is() { # PATCH EXPECTED DESC
	if [ "$(functions "$1")" = "$2" ]; then ok "$1: $3"; else
		not_ok "$1: $3"; printf '#   expected: %s\n#        got: %s\n' "$2" "$(functions "$1")"; fi
}
fn_is two-objects "can:can_stats_proc_show vmlinux:version_proc_show " "two klp_objects"
fn_is module-static "can:can_reset_stats_proc_show can:can_stats_proc_show " "both can functions"
fn_is global-helper "vmlinux:proc_pid_status vmlinux:uptime_proc_show " \
	"the two changed functions (the new helper is not a klp_func)"
fn_is header-inline "vmlinux:proc_fd_link vmlinux:seq_show vmlinux:tid_fd_revalidate " \
	"the users of the inline in fd.c only"
fn_is static-local-shift "vmlinux:drop_caches_sysctl_handler " "the handler"
fn_is exported "vmlinux:__get_task_comm " "the exported function"
fn_is module-callbacks "can:can_stats_proc_show " "the can function"
if [ -f "$t/elp_shape_global_helper.ko" ]; then
	check "global-helper: the new helper is defined in the livepatch (array.c links to it)" \
		sh -c "readelf -sW '$t/elp_shape_global_helper.ko' | grep -q ' FUNC .*DEFAULT *[0-9][0-9]* elp_uptime_tag\$'"
fi
check "global-helper: no warning that array.c leaves elp_uptime_tag to the module loader" \
	sh -c "! grep -q 'elp_uptime_tag' '$t/global-helper.err'"
if [ -f "$t/elp_shape_static_local_shift.ko" ]; then
	check "static-local-shift: stfu is the kernel's" sh -c \
		"readelf -sW '$t/elp_shape_static_local_shift.ko' | grep -q ' .klp.sym.vmlinux.stfu.[0-9]*,[0-9]*\$'"
fi
if [ -f "$t/elp_shape_module_static.ko" ]; then
	check "module-static: user_reset is can's" sh -c \
		"readelf -sW '$t/elp_shape_module_static.ko' | grep -q ' .klp.sym.can.user_reset,[0-9]*\$'"
fi

# --- cumulative: A applied, then B touching a module ---------------------------------------
if elp --json build --kernel ref --no-cumulative --name elp_shape_cumul_a \
	--patch "$patches/cmdline-string.patch" \
	-o "$t/elp_shape_cumul_a.ko" > "$t/cumul_a.json" 2> "$t/cumul_a.err"; then
	ok "build cumulative A"
	a_id=$(q "SELECT max(id) FROM builds WHERE status = 'succeeded'")
	# what `elivepatch apply` records (src/cmd-apply.c)
	q "INSERT INTO events (time, kind, kernel_release, build_id, module, host, detail) VALUES (strftime('%s', 'now'), 'apply', '$E2E_RELEASE', $a_id, 'elp_shape_cumul_a', '$(hostname)', 'e2e')"
	if elp --json build --kernel ref --cumulative --name elp_shape_cumul_b \
		--patch "$patches/shape-module-static.patch" \
		-o "$t/elp_shape_cumul_b.ko" > "$t/cumul_b.json" 2> "$t/cumul_b.err"; then
		ok "build cumulative B"
		fn_is cumul_b "can:can_reset_stats_proc_show can:can_stats_proc_show vmlinux:cmdline_proc_show " \
			"cumulative B holds A's function and its own module functions"
		check "cumulative B is cumulative" grep -q '"cumulative":true' "$t/cumul_b.json"
	else
		not_ok "build cumulative B"; sed 's/^/# /' "$t/cumul_b.err"
	fi
else
	not_ok "build cumulative A"; sed 's/^/# /' "$t/cumul_a.err"
fi

# --- refusals ------------------------------------------------------------------------------
refused() { # PATCH TEXT...
	_p=$1; shift
	if elp build --kernel ref --no-cumulative --patch "$patches/shape-$_p.patch" \
		-o "$t/refused.ko" > "$t/$_p.out" 2> "$t/$_p.err"; then
		not_ok "$_p is refused"; return
	fi
	ok "$_p is refused"
	for _w in "$@"; do
		check "$_p: says '$_w'" grep -qF "$_w" "$t/$_p.err"
	done
	check "$_p: each reason printed once" \
		[ "$(grep '^error: ' "$t/$_p.err" | grep -v 'refused; log' | sort | uniq -d)" = "" ]
	check "$_p: no artefact" [ ! -e "$t/refused.ko" ]
}
refused bad-global-init "fs/file.c: sysctl_nr_open: initial value of existing data changed" \
	"use a shadow variable"
refused bad-module-exit "net/can/af_can.c: can_exit: changes .exit.text code or data" \
	"runs only when its module is unloaded"
check "bad-module-exit: not again for the cleanup_module alias" \
	sh -c "! grep -q cleanup_module '$t/bad-module-exit.err'"
refused bad-local-struct "kernel/printk/printk.c: clear_seq: size of existing data changed" \
	"use a shadow variable"

# --- one guest -----------------------------------------------------------------------------
cat > "$t/init.sh" <<'GUEST'
# run NAME CMD: the result of CMD before, with and after the livepatch elp_shape_NAME
run() {
	_n=$1; shift
	e2e_lp_run "elp_shape_$_n" "$@"
}
ver() { cut -c1-12 /proc/version; }
cst() { cat /proc/net/can/stats 2>/dev/null | grep -c '^elp-two can'; }

m=elp_shape_two_objects
if [ -f /root/$m.ko ]; then
	# can is loaded after the livepatch
	e2e_result two_before "$(ver) $(cst)"
	e2e_lp_on $m
	e2e_result two_on "$(ver) $(cst)"
	modprobe can
	e2e_result two_late "$(ver) $(cst)"
	e2e_lp_off $m
	e2e_result two_off "$(ver) $(cst)"
	# can is loaded before the livepatch
	e2e_lp_on $m
	e2e_result two_early "$(ver) $(cst)"
	e2e_lp_off $m
	e2e_result two_off2 "$(ver) $(cst)"
fi
modprobe can

cs() {
	grep -o '^elp-reads [0-9]*' /proc/net/can/stats
	grep -o '^elp-reads [0-9]*' /proc/net/can/stats
	cut -d' ' -f1-3 /proc/net/can/reset_stats
	cut -d' ' -f1-3 /proc/net/can/reset_stats
}
mstat() { cs | tr '\n' ' '; }
run module_static mstat
gh() { echo "$(awk '{ print ($1 ~ /^elp-uptime/) }' /proc/uptime) $(grep -c '^CapInh' /proc/self/status) $(grep -c '^elp-status NoNewPrivs:' /proc/self/status)"; }
run global_helper gh
fdi() { sh -c 'exec 7< /proc/version; echo "$(grep "^elp-fd" /proc/self/fdinfo/7 | tr "\t" " ") $(readlink /proc/self/fd/7) $(grep -c "^pos:" /proc/self/fdinfo/7)"'; }
run header_inline fdi
comm() { sh -c 'echo -n elpexp > /proc/$$/comm; echo "$(cat /proc/$$/comm)"'; }
run exported comm

m=elp_shape_static_local_shift
if [ -f /root/$m.ko ]; then
	# the kernel's stfu becomes 4: its message is printed no more
	echo 4 > /proc/sys/vm/drop_caches
	e2e_lp_on $m
	echo 1 > /proc/sys/vm/drop_caches
	echo 1 > /proc/sys/vm/drop_caches
	e2e_result stfu_on "$(dmesg | grep -o 'elp-drop writes=[0-9]* stfu=[0-9]*' | tr '\n' ' ')"
	e2e_lp_off $m
	echo 1 > /proc/sys/vm/drop_caches
	e2e_result stfu_off "$(dmesg | grep -c 'elp-drop') $(dmesg | grep -c 'drop_caches: ')"
fi

m=elp_shape_module_callbacks
if [ -f /root/$m.ko ]; then
	e2e_lp_on $m
	e2e_result cbm_on "$(grep -h '^elp-shadow' /proc/net/can/stats /proc/net/can/stats | tr '\n' ' ')"
	e2e_lp_off $m
	e2e_result cbm_off "$(grep -c '^elp-shadow' /proc/net/can/stats)"
	e2e_result cbm_log "$(dmesg | grep -o 'elp-cbm [a-z_]* [a-z]*' | tr '\n' ' ')"
fi

a=elp_shape_cumul_a b=elp_shape_cumul_b
if [ -f /root/$a.ko ] && [ -f /root/$b.ko ]; then
	e2e_lp_on $a
	e2e_result cum_a "$(cut -c1-23 /proc/cmdline) $(grep -c '^elp-reads' /proc/net/can/stats)"
	e2e_lp_on $b
	e2e_result cum_b "$(cut -c1-23 /proc/cmdline) $(grep -o '^elp-reads [0-9]*' /proc/net/can/stats) $(ls /sys/kernel/livepatch | tr '\n' ' ')"
	echo 0 > /sys/kernel/livepatch/$b/enabled
	e2e_lp_wait $b 30
	e2e_result cum_wait_off $?
	e2e_result cum_off "$(cut -c1-7 /proc/cmdline) $(grep -c '^elp-reads' /proc/net/can/stats)"
	rmmod $b
	e2e_result cum_rmmod_b $?
	rmmod $a
	e2e_result cum_rmmod_a $?
fi
GUEST
files=
for m in $mods elp_shape_cumul_a elp_shape_cumul_b; do
	[ -f "$t/$m.ko" ] && files="$files $t/$m.ko"
done
E2E_GUEST_MODULES=can
# shellcheck disable=SC2086 # list of files
check "initramfs with the modules" e2e_initramfs "$t/initrd.gz" "$t/init.sh" $files
t0=$(date +%s)
check "the reference kernel boots and runs the checks" e2e_boot "$t/initrd.gz" "$t/boot.log" 240
printf '# boot: %s s\n' "$(($(date +%s) - t0))"
log=$t/boot.log

# loads NAME: the livepatch elp_shape_NAME loaded, was enabled and unloaded
loads() {
	e2e_check_result "$1 loads" "$log" "elp_shape_${1}_insmod" 0
	e2e_check_result "$1 is enabled" "$log" "elp_shape_${1}_enabled" 1
	e2e_check_result "$1 unloads" "$log" "elp_shape_${1}_rmmod" 0
}
# expect NAME BEFORE ON: the patched behaviour, and the old one before and after
expect() {
	case $mods in *"elp_shape_$1"*) ;; *) return 0 ;; esac
	loads "$1"
	e2e_check_result "$1: before" "$log" "elp_shape_${1}_before" "$2"
	e2e_check_result "$1: patched" "$log" "elp_shape_${1}_on" "$3"
	e2e_check_result "$1: disabled" "$log" "elp_shape_${1}_off" "$2"
}
case $mods in *elp_shape_two_objects*)
	loads two_objects
	e2e_check_result "two-objects: before (no can)" "$log" two_before "Linux versio 0"
	e2e_check_result "two-objects: vmlinux patched" "$log" two_on "elp-two Linu 0"
	e2e_check_result "two-objects: can loaded later is patched" "$log" two_late "elp-two Linu 1"
	e2e_check_result "two-objects: disabled" "$log" two_off "Linux versio 0"
	e2e_check_result "two-objects: can loaded before is patched" "$log" two_early "elp-two Linu 1"
	e2e_check_result "two-objects: disabled again" "$log" two_off2 "Linux versio 0" ;;
esac
expect module_static "Scheduled statistic reset Scheduled statistic reset " \
	"elp-reads 1 elp-reads 2 elp-resets 1 Scheduled elp-resets 2 Scheduled "
expect global_helper "0 1 0" "1 0 1"
expect header_inline " /proc/version 1" "elp-fd: 7 /proc/version 1"
expect exported "elpexp" "elp-exported"
case $mods in *elp_shape_static_local_shift*)
	loads static_local_shift
	e2e_check_result "static-local-shift: the new local counts, stfu is the kernel's (4)" \
		"$log" stfu_on "elp-drop writes=1 stfu=4 elp-drop writes=2 stfu=4 "
	e2e_check_result "static-local-shift: disabled, the kernel's message stays quiet" \
		"$log" stfu_off "2 1" ;;
esac
case $mods in *elp_shape_module_callbacks*)
	loads module_callbacks
	e2e_check_result "module-callbacks: the shadow counts on the can object" "$log" cbm_on \
		"elp-shadow 1 elp-shadow 2 "
	e2e_check_result "module-callbacks: disabled" "$log" cbm_off 0
	e2e_check_result "module-callbacks: the four callbacks ran for can" "$log" cbm_log \
		"elp-cbm pre_patch can elp-cbm post_patch can elp-cbm pre_unpatch can elp-cbm post_unpatch can " ;;
esac
if [ -f "$t/elp_shape_cumul_b.ko" ]; then
	e2e_check_result "cumulative: A loads" "$log" elp_shape_cumul_a_insmod 0
	e2e_check_result "cumulative: A patches cmdline" "$log" cum_a "elivepatch-test-cmdline 0"
	e2e_check_result "cumulative: B loads" "$log" elp_shape_cumul_b_insmod 0
	e2e_check_result "cumulative: B replaces A, cmdline and can patched" "$log" cum_b \
		"elivepatch-test-cmdline elp-reads 1 elp_shape_cumul_b "
	e2e_check_result "cumulative: B disabled, both changes gone" "$log" cum_off "console 0"
	e2e_check_result "cumulative: the transition back finished" "$log" cum_wait_off 0
	e2e_check_result "cumulative: B unloads" "$log" cum_rmmod_b 0
	e2e_check_result "cumulative: A unloads" "$log" cum_rmmod_a 0
fi
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log"
if [ "${E2E_KEEP:-0}" = 1 ] || [ "$_t_failed" != 0 ]; then
	tr -d '\r' < "$log" | grep -E '^E2E-|livepatch|elp' | sed 's/^/# /'
fi
t_done
