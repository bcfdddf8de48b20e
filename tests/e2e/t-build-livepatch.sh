#!/bin/sh
# e2e: `elivepatch build` turns source patches (tests/e2e/patches/) into livepatch modules
# for the reference kernel; one qemu boot loads each in turn, checks the new behaviour,
# disables it, checks the old one is back and unloads it.
#   cmdline-string      a string change in a /proc show function
#   filesystems-static  calls a static function, reads static variables of its file
#   version-helper      adds a new static helper
#   meminfo-inlined     changes a function gcc inlines into its caller
#   two-files           one patch, two translation units
#   module-binfmt-misc  a function of a module (binfmt_misc.ko), not of vmlinux
# Env: ELIVEPATCH (binary), ELIVEPATCH_CACHE (default /var/cache/elivepatch-test/cache: the
# prepared tree is reused across runs).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
E2E_LIB_DIR=$here
. "$here/lib.sh"

e2e_build_setup

check "kernel add $E2E_RELEASE (tarball source, headers, kallsyms)" e2e_add_kernel "$E2E_RELEASE" "$ks"

# --- build every module -----------------------------------------------------------------
mods=
for p in cmdline-string filesystems-static version-helper meminfo-inlined two-files \
	module-binfmt-misc; do
	m=elp_$(echo "$p" | tr '-' '_')
	t0=$(date +%s)
	if elp build --kernel "$E2E_RELEASE" --patch "$patches/$p.patch" -o "$t/$m.ko" \
		> "$t/$p.out" 2> "$t/$p.err"; then
		ok "build $p ($(($(date +%s) - t0)) s)"
		mods="$mods $m"
	else
		not_ok "build $p"
		sed 's/^/# /' "$t/$p.err"
		continue
	fi
	check "$p: prints the module path" [ "$(cat "$t/$p.out")" = "$t/$m.ko" ]
	check "$p: modinfo livepatch=Y" [ "$(modinfo -F livepatch "$t/$m.ko")" = Y ]
	case $(modinfo -F vermagic "$t/$m.ko") in
	"$E2E_RELEASE "*) ok "$p: vermagic $E2E_RELEASE" ;;
	*) not_ok "$p: vermagic $E2E_RELEASE" ;;
	esac
	row=$(q "SELECT status || '|' || artefact_sha256 || '|' || artefact_path FROM builds WHERE module_name = '$m' ORDER BY id DESC LIMIT 1")
	sha=$(sha256sum "$t/$m.ko" | cut -d' ' -f1)
	case $row in
	"succeeded|$sha|"*) ok "$p: catalogue has the build with the module's sha256" ;;
	*) not_ok "$p: catalogue has the build with the module's sha256 (got: $row)" ;;
	esac
	check "$p: the stored artefact is there" [ -f "${row##*|}" ]
	n=$(q "SELECT count(*) FROM build_stages s JOIN builds b ON b.id = s.build_id WHERE b.module_name = '$m'")
	check "$p: stages are timed ($n)" [ "$n" -ge 6 ]
done

# two patched functions, one per file
check "two-files: one klp_func per file" \
	[ "$(elp --json build --kernel "$E2E_RELEASE" --patch "$patches/two-files.patch" |
		grep -o '"function":"[a-z_]*"' | sort | tr '\n' ' ')" = \
		'"function":"loadavg_proc_show" "function":"uptime_proc_show" ' ]

check "module-binfmt-misc: the klp_object is binfmt_misc" \
	[ "$(elp --json build --kernel "$E2E_RELEASE" --patch "$patches/module-binfmt-misc.patch" |
		grep -o '"object":"[a-z_]*"')" = '"object":"binfmt_misc"' ]

# several patches, applied in order, make one module
check "two patches, one module with their functions" \
	[ "$(elp --json build --kernel "$E2E_RELEASE" --name elp_multi --patch "$patches/cmdline-string.patch" \
		--patch "$patches/version-helper.patch" | grep -o '"function":"[a-z_]*"' | tr '\n' ' ')" = \
		'"function":"cmdline_proc_show" "function":"version_proc_show" ' ]
check "two patches: build_patches in order" \
	[ "$(q "SELECT group_concat(p.name, ' ') FROM build_patches bp JOIN patches p ON p.id = bp.patch_id WHERE bp.build_id = (SELECT max(id) FROM builds WHERE module_name = 'elp_multi') ORDER BY bp.position")" = \
		"cmdline-string version-helper" ]

# --- an identical build is answered from the catalogue ----------------------------------
# (how long it takes is measured by `make bench`, not asserted here)
nbuilds=$(q "SELECT count(*) FROM builds")
elp build --kernel "$E2E_RELEASE" --patch "$patches/cmdline-string.patch" -o "$t/again.ko" > /dev/null 2>&1
check "identical rebuild succeeds" [ $? = 0 ]
check "identical rebuild gives the same module" cmp -s "$t/again.ko" "$t/elp_cmdline_string.ko"
check "identical rebuild adds no build row" [ "$(q "SELECT count(*) FROM builds")" = "$nbuilds" ]
check "the patch was catalogued once" \
	[ "$(q "SELECT count(*) FROM patches WHERE name = 'cmdline-string'")" = 1 ]
check "a 'build' event per build" \
	[ "$(q "SELECT count(*) FROM events WHERE kind = 'build'")" -ge "$nbuilds" ]

# --- the reference kernel has CONFIG_MODULE_SIG: a configured key signs the module ------------
printf '[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = ext\n[dn]\nCN = elivepatch build key\n[ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=digitalSignature\nsubjectKeyIdentifier=hash\n' > "$t/genkey"
if openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$t/genkey" \
	-outform PEM -out "$t/key.pem" -keyout "$t/key.pem" > /dev/null 2>&1; then
	ELIVEPATCH_SIGN_KEY=$t/key.pem elp build --rebuild --kernel "$E2E_RELEASE" \
		--patch "$patches/cmdline-string.patch" --name elp_signed -o "$t/signed.ko" \
		> "$t/signed.out" 2>&1
	check "a build with ELIVEPATCH_SIGN_KEY set succeeds" [ $? = 0 ]
	check "...and the module is signed by that key" \
		sh -c "modinfo -F signer '$t/signed.ko' | grep -qx 'elivepatch build key'"
	check "...and the catalogue's sha256 is the signed module's" \
		[ "$(q "SELECT artefact_sha256 FROM builds WHERE module_name = 'elp_signed'")" = \
		"$(sha256sum < "$t/signed.ko" | cut -d' ' -f1)" ]
	check "a build without a key is not signed" \
		[ -z "$(modinfo -F signer "$t/elp_cmdline_string.ko")" ]
else
	not_ok "openssl makes a signing key"
fi

# --- load them all in one guest -----------------------------------------------------------
cat > "$t/init.sh" <<'EOF'
lp_test() { # MODULE CHECK-COMMAND
	_m=$1 _c=$2
	e2e_result "${_m}_before" "$(eval "$_c")"
	insmod "/root/$_m.ko"
	e2e_result "${_m}_insmod" $?
	e2e_lp_wait "$_m" 30
	e2e_result "${_m}_patched" "$(eval "$_c")"
	echo 0 > "/sys/kernel/livepatch/$_m/enabled"
	e2e_lp_wait "$_m" 30
	e2e_result "${_m}_unpatched" "$(eval "$_c")"
	rmmod "$_m"
	e2e_result "${_m}_rmmod" $?
}
[ -f /root/elp_cmdline_string.ko ] && lp_test elp_cmdline_string 'cat /proc/cmdline'
[ -f /root/elp_filesystems_static.ko ] &&
	lp_test elp_filesystems_static "awk '\$2 == \"proc\" { print \$2 \"/\" \$3 }' /proc/filesystems"
[ -f /root/elp_version_helper.ko ] && lp_test elp_version_helper 'grep -c elivepatch-test-version /proc/version'
[ -f /root/elp_meminfo_inlined.ko ] && lp_test elp_meminfo_inlined "awk 'NR == 1 { print \$3 }' /proc/meminfo"
[ -f /root/elp_two_files.ko ] &&
	lp_test elp_two_files "echo \$(awk '{ print (\$NF == \"elivepatch-test\") }' /proc/loadavg) \$(awk '{ print NF }' /proc/uptime)"
if [ -f /root/elp_module_binfmt_misc.ko ]; then
	modprobe binfmt_misc && mount -t binfmt_misc none /proc/sys/fs/binfmt_misc
	lp_test elp_module_binfmt_misc 'cat /proc/sys/fs/binfmt_misc/status'
fi
EOF
files=
for m in $mods; do files="$files $t/$m.ko"; done
# shellcheck disable=SC2086 # list of files
E2E_GUEST_MODULES=binfmt_misc
check "initramfs with the modules" e2e_initramfs "$t/initrd.gz" "$t/init.sh" $files
t0=$(date +%s)
check "the reference kernel boots and runs the checks" e2e_boot "$t/initrd.gz" "$t/boot.log" 180
printf '# boot with %s modules: %s s\n' "$(echo $mods | wc -w)" "$(($(date +%s) - t0))"
log=$t/boot.log
cmdline="console=ttyS0 quiet panic=-1${E2E_APPEND:+ $E2E_APPEND}"

lp_check() { # MODULE BEFORE PATCHED
	e2e_check_result "$1 loads" "$log" "${1}_insmod" 0
	e2e_check_result "$1: before" "$log" "${1}_before" "$2"
	e2e_check_result "$1: patched" "$log" "${1}_patched" "$3"
	e2e_check_result "$1: disabled, the old behaviour is back" "$log" "${1}_unpatched" "$2"
	e2e_check_result "$1 unloads" "$log" "${1}_rmmod" 0
}
for m in $mods; do
	case $m in
	elp_cmdline_string) lp_check $m "$cmdline" "elivepatch-test-cmdline" ;;
	elp_filesystems_static) lp_check $m "proc/" "proc/elivepatch-test" ;;
	elp_version_helper) lp_check $m 0 1 ;;
	elp_meminfo_inlined) lp_check $m kB KiB ;;
	elp_two_files) lp_check $m "0 2" "1 3" ;;
	elp_module_binfmt_misc) lp_check $m enabled "enabled elivepatch-test" ;;
	esac
done
check "no oops, BUG, WARNING, stall or failed transition in the guest" e2e_guest_dmesg_ok "$log"
if [ "${E2E_KEEP:-0}" = 1 ] || [ "$_t_failed" != 0 ]; then
	tr -d '\r' < "$log" | grep -E '^E2E-|livepatch' | sed 's/^/# /'
fi
t_done
