#!/bin/sh
# queue run's auto-apply (elivepatch.conf auto-apply, ELIVEPATCH_AUTO_APPLY,
# --[no-]auto-apply): a build job for the running kernel is applied through
# elp_apply, as `elivepatch apply ID` would; builds for other kernels are
# only built; off by default.  A fake running system ($ELIVEPATCH_ROOT) as
# in t-apply.sh: loading is real and this machine's kernel refuses the fake
# module, which is what the job then says.  The builds are answered from
# the catalogue (a succeeded build of the same inputs whose module is a
# fake livepatch), since the fake kernel trees cannot be built.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

unset ELIVEPATCH_CONFIG ELIVEPATCH_AUTO_APPLY
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
patches=$(cd "$(dirname "$0")/../../contrib/examples" && pwd)
q() { sqlite3 "$DB" "$1"; }
REL=6.1.0-57-amd64
R=$T/root
mkdir -p "$R/proc/sys/kernel" "$R/sys/kernel/livepatch" "$R/sys/module/module/parameters"
echo "$REL" > "$R/proc/sys/kernel/osrelease"
echo N > "$R/sys/module/module/parameters/sig_enforce"
ELIVEPATCH_ROOT=$R
export ELIVEPATCH_ROOT
fake_module() { # FILE NAME RELEASE
	printf 'name=%s\0vermagic=%s SMP preempt mod_unload modversions \0livepatch=Y\0license=GPL\0' \
		"$2" "$3" > "$T/modinfo.bin"
	echo 'int x;' | cc -c -x c - -o "$T/fake.o" &&
		objcopy --add-section .modinfo="$T/modinfo.bin" \
			--set-section-flags .modinfo=alloc,readonly "$T/fake.o" "$1"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# kernel K (release RL) with patch cmdline "built": the build fails on the
# fake tree, then a succeeded build of the same inputs stands for it
succeeded_build() { # KERNEL RELEASE MODULE-FILE MODULE-NAME
	elp kernel add --release "$2" --name "$1" --source "$T/src" --config "$T/config" > /dev/null 2>&1 ||
		bail "kernel $1 added"
	elp build --kernel "$1" --patch cmdline > /dev/null 2>&1
	h=$(q "SELECT inputs_sha256 FROM builds ORDER BY id DESC LIMIT 1")
	q "INSERT INTO builds (kernel_id, kernel_release, module_name, inputs_sha256, status, artefact_path, artefact_sha256, verified, created_at)
	   SELECT id, '$2', '$4', '$h', 'succeeded', '$3', '$(sha "$3")', 'passed', 1 FROM kernels WHERE name = '$1'"
	q "SELECT max(id) FROM builds"
}
elp patch add "$patches/cmdline.patch" > /dev/null
fake_module "$T/lp.ko" elp_cmdline "$REL" || bail "fake livepatch module"
fake_module "$T/other.ko" elp_cmdline 6.6.30-gentoo || bail "fake module for another kernel"
b_run=$(succeeded_build running "$REL" "$T/lp.ko" elp_cmdline)
b_other=$(succeeded_build other 6.6.30-gentoo "$T/other.ko" elp_cmdline)
applies() { q "SELECT count(*) FROM events WHERE kind = 'apply'"; }
job() { q "SELECT state || '|' || coalesce(error, '') FROM jobs ORDER BY id DESC LIMIT 1"; }

# ---- off by default ----
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
elp queue run > "$T/out" 2>&1
check "without auto-apply a build job only builds (here: reuses)" test "$(job)" = "done|"
check "...and applies nothing" test "$(applies)" = 0
check "...nor tries to" sh -c "! grep -q 'cannot load' '$T/out'"

# ---- auto-apply = yes in elivepatch.conf ----
printf 'auto-apply = yes\n' > "$T/auto.conf"
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
ELIVEPATCH_CONFIG=$T/auto.conf elp queue run > "$T/out" 2>&1
check "auto-apply: a build for the running kernel is applied (exit 1: this kernel refuses it)" test $? -eq 1
case $(job) in
"failed|build $b_run succeeded but was not applied: cannot load 'elp_cmdline': "*) ok "...the job fails, saying the build succeeded and why it was not applied" ;;
*) not_ok "...the job fails, saying the build succeeded and why it was not applied (got: $(job))" ;;
esac
check "...through elp_apply (its error on stderr)" grep -q "^error: cannot load 'elp_cmdline': " "$T/out"
check "...nothing recorded as applied" test "$(applies)" = 0

elp queue add build --kernel other --patch cmdline --origin test > /dev/null
ELIVEPATCH_CONFIG=$T/auto.conf elp -v queue run > "$T/out" 2>&1
check "a build for another kernel is only built" test "$(job)" = "done|"
check "...saying why it was not applied (-v)" \
	grep -q "job [0-9]*: build $b_other not applied: kernel 6.6.30-gentoo is not the running kernel ($REL)" "$T/out"

# the build is the livepatch already loaded: done, nothing loaded again
# (with a livepatch loaded a build is cumulative: other inputs, its own row)
mkdir -p "$R/sys/kernel/livepatch/elp_cmdline" "$R/sys/module/elp_cmdline"
echo 1 > "$R/sys/kernel/livepatch/elp_cmdline/enabled"
echo 0 > "$R/sys/kernel/livepatch/elp_cmdline/transition"
applied() { q "DELETE FROM events WHERE kind = 'apply'; INSERT INTO events (time, kind, kernel_release, build_id, module, host) VALUES (2, 'apply', '$REL', $1, 'elp_cmdline', '$(uname -n)')"; }
applied "$b_run"
elp build --kernel running --patch cmdline > /dev/null 2>&1
q "INSERT INTO builds (kernel_id, kernel_release, module_name, inputs_sha256, status, cumulative, artefact_path, artefact_sha256, verified, created_at)
   SELECT kernel_id, kernel_release, 'elp_cmdline', inputs_sha256, 'succeeded', cumulative, '$T/lp.ko', '$(sha "$T/lp.ko")', 'passed', 1 FROM builds WHERE id = (SELECT max(id) FROM builds)"
b_cumul=$(q "SELECT max(id) FROM builds")
applied "$b_cumul"
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
ELIVEPATCH_CONFIG=$T/auto.conf elp -v queue run > "$T/out" 2>&1
check "a build that is the loaded livepatch already: done" test "$(job)" = "done|"
check "...saying so (-v)" grep -q "build $b_cumul is applied already" "$T/out"
# another build of that module is loaded: not replaced behind the user's back
applied "$b_run"
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
ELIVEPATCH_CONFIG=$T/auto.conf elp queue run > "$T/out" 2>&1
case $(job) in
"failed|build $b_cumul succeeded but was not applied: livepatch 'elp_cmdline' is already loaded"*) ok "a livepatch of that name from another build: the job fails, saying so" ;;
*) not_ok "a livepatch of that name from another build: the job fails, saying so (got: $(job))" ;;
esac
rm -r "$R/sys/kernel/livepatch/elp_cmdline" "$R/sys/module/elp_cmdline"

# ---- precedence: command line > environment > file ----
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
ELIVEPATCH_CONFIG=$T/auto.conf elp queue run --no-auto-apply > /dev/null 2>&1
check "--no-auto-apply wins over the file" test "$(job)" = "done|"
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
ELIVEPATCH_CONFIG=$T/auto.conf ELIVEPATCH_AUTO_APPLY=no elp queue run > /dev/null 2>&1
check "ELIVEPATCH_AUTO_APPLY=no wins over the file" test "$(job)" = "done|"
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
ELIVEPATCH_AUTO_APPLY=yes elp queue run > /dev/null 2>&1
check "ELIVEPATCH_AUTO_APPLY=yes applies" test "$(job | cut -d'|' -f1)" = failed
elp queue add build --kernel running --patch cmdline --origin test > /dev/null
elp queue run --auto-apply > /dev/null 2>&1
check "--auto-apply applies" test "$(job | cut -d'|' -f1)" = failed
ELIVEPATCH_AUTO_APPLY=maybe elp queue run > "$T/out" 2>&1
check "a bad ELIVEPATCH_AUTO_APPLY is an error" test $? -eq 1
check "...naming it" grep -q "invalid ELIVEPATCH_AUTO_APPLY 'maybe': expected yes or no" "$T/out"
elp queue run --auto-apply --no-auto-apply > /dev/null 2>&1
check "--auto-apply and --no-auto-apply together: usage error" test $? -eq 129
printf 'auto-apply = sometimes\n' > "$T/bad.conf"
ELIVEPATCH_CONFIG=$T/bad.conf elp queue list > "$T/out" 2>&1
check "auto-apply must be yes or no" grep -q "$T/bad.conf:1: auto-apply 'sometimes' must be 'yes' or 'no'" "$T/out"
check "the queue's catalogue is intact" test "$(q 'PRAGMA integrity_check')" = ok
t_done
