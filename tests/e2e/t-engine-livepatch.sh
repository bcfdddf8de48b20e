#!/bin/sh
# e2e: what real fixes need from the object engine, built with `elivepatch build` and run
# in one guest of the reference kernel (tests/e2e/patches/engine-*.patch):
#   module-late   a binfmt_misc.ko function, patched when the module loads after the
#                 livepatch and when it was loaded before
#   clones        gcc clones: __set_oom_adj.isra.0 (with a .cold part), proc_get_long.constprop.0
#   static-local  a static local of the changed function stays the running kernel's
#   new-data      new global and static data and strings, allocated in the livepatch
#   special       __ex_table, .altinstructions, __bug_table (WARN file:line), .smp_locks,
#                 .parainstructions, a tracepoint's jump label and static call, __mcount_loc
#   warn-lines    lines inserted above WARN sites: only the one changed function is patched
#   callbacks     a shadow variable, and pre/post (un)patch callbacks from <elivepatch.h>
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add ref" e2e_add_kernel ref "$ks"

# functions PATCH: the "function" names of a build's JSON, sorted, space separated
functions() { grep -o '"function":"[^"]*"' "$t/$1.json" | sed 's/"function":"//; s/"$//' | sort | tr '\n' ' '; }

mods=
for p in module-late clones static-local new-data special warn-lines callbacks; do
	m=elp_engine_$(echo "$p" | tr '-' '_')
	t0=$(date +%s)
	if elp --json build --kernel ref --patch "$patches/engine-$p.patch" -o "$t/$m.ko" \
		> "$t/$p.json" 2> "$t/$p.err"; then
		ok "build $p ($(($(date +%s) - t0)) s)"
		mods="$mods $m"
	else
		not_ok "build $p"
		sed 's/^/# /' "$t/$p.err"
	fi
done
check "module-late: the klp_object is binfmt_misc" grep -q '"object":"binfmt_misc"' "$t/module-late.json"
check "clones: the running kernel's clone names" [ "$(functions clones)" = "__set_oom_adj.isra.0 proc_get_long.constprop.0 " ]
check "warn-lines: only proc_getattr, not the functions whose WARN lines moved" \
	[ "$(functions warn-lines)" = "proc_getattr " ]
check "special: only version_proc_show is patched" [ "$(functions special)" = "version_proc_show " ]
if [ -f "$t/elp_engine_special.ko" ]; then
	secs=$(readelf -SW "$t/elp_engine_special.ko")
	for s in __ex_table .altinstructions .altinstr_replacement __bug_table .smp_locks \
		.parainstructions __jump_table __mcount_loc .static_call_sites; do
		case $secs in
		*" $s "*) ok "special: the module has $s" ;;
		*) not_ok "special: the module has $s" ;;
		esac
	done
fi
if [ -f "$t/elp_engine_callbacks.ko" ]; then
	check "callbacks: the diff object keeps the four callbacks" \
		[ "$(readelf -sW "$t/elp_engine_callbacks.ko" | grep -c ' __elp_cb_[0-9]*_\(pre\|post\)_\(un\)\{0,1\}patch$')" = 4 ]
	check "callbacks: no .elivepatch.callbacks section in the module" \
		sh -c "! readelf -SW '$t/elp_engine_callbacks.ko' | grep -q elivepatch.callbacks"
fi

# --- one guest -----------------------------------------------------------------------------
cat > "$t/init.sh" <<'GUEST'
mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
has() { [ -f "/root/$1.ko" ]; }

m=elp_engine_module_late
if has $m; then
	status=/proc/sys/fs/binfmt_misc/status
	e2e_lp_on $m
	modprobe binfmt_misc && mount -t binfmt_misc none /proc/sys/fs/binfmt_misc
	e2e_result late_loaded_after "$(cat $status)"
	e2e_lp_off $m
	e2e_result late_off "$(cat $status)"
	e2e_lp_on $m
	e2e_result late_loaded_before "$(cat $status)"
	e2e_lp_off $m
fi

m=elp_engine_clones
if has $m; then
	oom() { sh -c 'echo 777 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj'; }
	lease() { echo 4242 > /proc/sys/fs/lease-break-time; cat /proc/sys/fs/lease-break-time; }
	e2e_result clones_before "$(oom) $(lease)"
	e2e_lp_on $m
	e2e_result clones_patched "$(oom) $(lease)"
	e2e_lp_off $m
	e2e_result clones_off "$(oom) $(lease)"
fi

m=elp_engine_static_local
if has $m; then
	# bit 4 silences the handler: its static local stfu becomes 4 before the patch
	echo 4 > /proc/sys/vm/drop_caches
	e2e_lp_on $m
	echo 1 > /proc/sys/vm/drop_caches
	e2e_result static_local "$(dmesg | grep -o 'elp-stfu=[0-9]*' | tail -n1) $(dmesg | grep -c 'drop_caches (elp)')"
	e2e_result static_local_traced "$(e2e_lp_traced $m)"
	e2e_lp_off $m
	# the kernel's handler again: silenced by its static, and not the patched copy's message
	n0=$(dmesg | grep -c 'drop_caches')
	echo 1 > /proc/sys/vm/drop_caches
	e2e_result static_local_off "$(dmesg | grep -c 'elp-stfu=') $(($(dmesg | grep -c 'drop_caches') - n0))"
	e2e_result static_local_traced_off "$(e2e_lp_traced $m)"
fi

m=elp_engine_new_data
if has $m; then
	e2e_lp_on $m
	a=$(cat /proc/cmdline)
	b=$(cat /proc/cmdline)
	e2e_result new_data "$a|$b"
	e2e_lp_off $m
	e2e_result new_data_off "$(cat /proc/cmdline | grep -c elp-new-data)"
fi

m=elp_engine_special
if has $m; then
	echo 1 > /sys/kernel/tracing/events/printk/console/enable
	e2e_lp_on $m
	r1=$(cat /proc/version)
	r2=$(cat /proc/version)
	r3=$(cat /proc/version)
	e2e_result special_1 "$r1"
	e2e_result special_3 "$r3"
	e2e_result special_trace "$(grep -c 'elp-trace' /sys/kernel/tracing/trace)"
	e2e_result special_ftrace "$(grep -c '^version_proc_show \[elp_engine_special\]' /sys/kernel/tracing/available_filter_functions)"
	echo 0 > /sys/kernel/tracing/events/printk/console/enable
	e2e_lp_off $m
	e2e_result special_off "$(grep -c elp-special /proc/version)"
fi

m=elp_engine_warn_lines
if has $m; then
	before=$(stat -c %h /proc/tty)
	e2e_lp_on $m
	e2e_result warn_lines $(($(stat -c %h /proc/tty) - before))
	e2e_lp_off $m
	e2e_result warn_lines_off $(($(stat -c %h /proc/tty) - before))
fi

m=elp_engine_callbacks
if has $m; then
	e2e_lp_on $m
	a=$(cut -d' ' -f1,2 /proc/loadavg)
	b=$(cut -d' ' -f1,2 /proc/loadavg)
	e2e_result shadow "$a|$b"
	e2e_lp_off $m
	e2e_result callbacks "$(dmesg | grep -o 'elp-cb [a-z_]*' | tr '\n' ' ')"
fi
GUEST
files=
for m in $mods; do files="$files $t/$m.ko"; done
E2E_GUEST_MODULES=binfmt_misc
# shellcheck disable=SC2086 # list of files
check "initramfs with the modules" e2e_initramfs "$t/initrd.gz" "$t/init.sh" $files
t0=$(date +%s)
check "the reference kernel boots and runs the checks" e2e_boot "$t/initrd.gz" "$t/boot.log" 240
printf '# boot with %s modules: %s s\n' "$(echo $mods | wc -w)" "$(($(date +%s) - t0))"
log=$t/boot.log

loads() { # MODULE
	e2e_check_result "$1 loads" "$log" "${1}_insmod" 0
	e2e_check_result "$1 is enabled" "$log" "${1}_enabled" 1
	e2e_check_result "$1 unloads" "$log" "${1}_rmmod" 0
}
for m in $mods; do loads "$m"; done
case $mods in *elp_engine_module_late*)
	e2e_check_result "module-late: binfmt_misc loaded after the livepatch is patched" \
		"$log" late_loaded_after "enabled elp-late"
	e2e_check_result "module-late: disabled, the old function is back" "$log" late_off enabled
	e2e_check_result "module-late: binfmt_misc loaded before the livepatch is patched" \
		"$log" late_loaded_before "enabled elp-late" ;;
esac
case $mods in *elp_engine_clones*)
	e2e_check_result "clones: before" "$log" clones_before "777 4242"
	e2e_check_result "clones: .isra/.cold and .constprop clones patched" "$log" clones_patched "555 4343"
	e2e_check_result "clones: disabled" "$log" clones_off "777 4242" ;;
esac
case $mods in *elp_engine_static_local*)
	e2e_check_result "static-local: the patched function sees the kernel's static (set before the patch)" \
		"$log" static_local "elp-stfu=4 0"
	e2e_check_traced "static-local: ftrace redirects the patched handler" "$log" static_local_traced on
	e2e_check_result "static-local: disabled, the kernel's handler runs (silent, no elp message)" \
		"$log" static_local_off "1 0"
	e2e_check_traced "static-local: disabled, nothing redirected" "$log" static_local_traced_off off ;;
esac
case $mods in *elp_engine_new_data*)
	e2e_check_result "new-data: new static and global data, initialised and writable" \
		"$log" new_data "elp-new-data 1 41|elp-new-data 2 42"
	e2e_check_result "new-data: disabled" "$log" new_data_off 0 ;;
esac
case $mods in *elp_engine_special*)
	e2e_check_result "special: __ex_table fixup returns -EFAULT, irqs off under local_irq_save" \
		"$log" special_1 "elp-special efault=-14 irqs_off=1 reads=1"
	e2e_check_result "special: atomic counter in new data" "$log" special_3 \
		"elp-special efault=-14 irqs_off=1 reads=3"
	e2e_check_result "special: the tracepoint's jump label follows the kernel's key" "$log" special_trace 3
	e2e_check_result "special: __mcount_loc: ftrace knows the new function" "$log" special_ftrace 1
	e2e_check_result "special: disabled" "$log" special_off 0
	# WARN_ON_ONCE(reads == 3) is line 40 of the patched fs/proc/version.c
	if tr -d '\r' < "$log" | grep -q 'WARNING: CPU: [0-9]* PID: [0-9]* at fs/proc/version.c:40 version_proc_show'; then
		ok "special: __bug_table: the WARN names fs/proc/version.c:40"
	else
		not_ok "special: __bug_table: the WARN names fs/proc/version.c:40"
		tr -d '\r' < "$log" | grep -A2 'WARNING' | sed 's/^/# /'
	fi ;;
esac
case $mods in *elp_engine_warn_lines*)
	e2e_check_result "warn-lines: proc_getattr patched" "$log" warn_lines 1000
	e2e_check_result "warn-lines: disabled" "$log" warn_lines_off 0 ;;
esac
case $mods in *elp_engine_callbacks*)
	e2e_check_result "callbacks: shadow variable counts across reads" "$log" shadow "elp-shadow 1|elp-shadow 2"
	cb=$(e2e_result "$log" callbacks)
	if [ "$cb" = "elp-cb pre_patch elp-cb post_patch elp-cb pre_unpatch elp-cb post_unpatch " ]; then
		ok "callbacks: pre/post patch and unpatch callbacks ran in order"
	else
		not_ok "callbacks: pre/post patch and unpatch callbacks ran in order (got: $cb)"
	fi ;;
esac
# the expected WARN of 'special' (and its one call trace) is the only one
allow=
case $mods in *elp_engine_special*)
	allow='WARNING: CPU: [0-9]+ PID: [0-9]+ at fs/proc/version.c:40 version_proc_show|Call Trace'
	traces=$(tr -d '\r' < "$log" | grep -c 'Call Trace')
	check "special: the expected WARN is the only call trace (got $traces)" [ "$traces" = 1 ] ;;
esac
check "no oops, BUG, other WARNING, stall or failed transition in the guest" \
	e2e_guest_dmesg_ok "$log" "$allow"
if [ "${E2E_KEEP:-0}" = 1 ] || [ "$_t_failed" != 0 ]; then
	tr -d '\r' < "$log" | grep -E '^E2E-|livepatch|elp' | sed 's/^/# /'
fi
t_done
