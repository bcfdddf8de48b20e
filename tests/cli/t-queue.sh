#!/bin/sh
# elivepatch queue: add (what hooks call), list, clear, and run: kernel
# registration, overlay import, builds, refusals not retried, the runner's
# lock and the recovery of jobs whose runner died.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

unset ELIVEPATCH_CONFIG ELIVEPATCH_ROOT
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
patches=$(cd "$(dirname "$0")/../../contrib/examples" && pwd)
q() { sqlite3 "$DB" "$1"; }
state() { q "SELECT state FROM jobs WHERE id = $1"; }
error() { q "SELECT error FROM jobs WHERE id = $1"; }

# a configured and built kernel tree, as /usr/src/linux-* is after 'make'
built_tree() { # DIR RELEASE [livepatch=y|n]
	make_source_tree "$1"
	make_config "$1/.config" "${3:-y}"
	mkdir -p "$1/include/config"
	echo "$2" > "$1/include/config/kernel.release"
	printf 'ffffffff81000000 T _text\nffffffff81000100 t cmdline_proc_show\n' > "$1/System.map"
}
built_tree "$T/usr/src/linux-6.6.30-gentoo" 6.6.30-gentoo
src=$T/usr/src/linux-6.6.30-gentoo

# ---- add ----
elp queue add kernel --kernel-source "$src" --origin "test: sources" > "$T/out"
check "queue add kernel prints the job" test "$(cat "$T/out")" = "queued job 1"
elp queue add kernel --kernel-source "$src" --origin "test: again" > "$T/out"
check "the same job still queued is not queued twice" test "$(cat "$T/out")" = "job 1 is already queued"
check "...one row" test "$(q 'SELECT count(*) FROM jobs')" = 1
check "--json says which job and whether it was queued" \
	test "$("$ELP" --db "$DB" --json queue add kernel --kernel-source "$src" --origin x)" = '{"id":1,"queued":false}'
check "arguments are stored as JSON" test "$(q 'SELECT arguments FROM jobs')" = "{\"source\":\"$src\"}"
check "...with origin and state" test "$(q 'SELECT origin, state FROM jobs')" = "test: sources|queued"

before=$(dump)
elp queue add kernel --kernel-source "$T/nowhere" --origin x > "$T/out" 2>&1
check "a missing source directory fails" test $? -eq 1
check "...naming it" grep -q "kernel source '$T/nowhere'" "$T/out"
elp queue add kernel --kernel-source "$src" --kernel-release 6.6 --origin x > "$T/out" 2>&1
check "source and release together are a usage error" test $? -eq 129
check "...saying why" grep -q "a source directory or a release (one of them)" "$T/out"
elp queue add frobnicate --origin x > /dev/null 2>&1
check "an unknown kind is a usage error" test $? -eq 129
elp queue add build --kernel k --origin x > /dev/null 2>&1
check "a build needs a patch" test $? -eq 129
elp queue add overlay --overlay ours --if-configured --location "$T" --origin x > "$T/out" 2>&1
check "--if-configured without a configured patch-overlay queues nothing" test $? -eq 0
check "...silently" test ! -s "$T/out"
printf 'patch-overlay = ours\n' > "$T/conf"
ELIVEPATCH_CONFIG=$T/conf elp queue add overlay --overlay theirs --if-configured --location "$T" --origin x > "$T/out" 2>&1
check "...nor for another repository" test ! -s "$T/out"
check "nothing was written by the refused adds" test "$before" = "$(dump)"

# ---- list ----
elp queue list > "$T/out"
check "list: id, state, kind, subject, origin, time, error" \
	grep -q "^1	queued	kernel	kernel source $src	test: sources	20[0-9-]* [0-9:]*	\$" "$T/out"
elp queue list --json > "$T/out"
check "list --json is an array of objects with the arguments as an object" \
	grep -q "^{\"id\":1,\"kind\":\"kernel\",\"state\":\"queued\",\"subject\":\"kernel source $src\",\"origin\":\"test: sources\",\"arguments\":{\"source\":\"$src\"},\"error\":null,\"created\":[0-9]*,\"started\":null,\"finished\":null}\$" "$T/out"
q "INSERT INTO jobs (kind, arguments, created_at) VALUES ('kernel', '{\"source\": ', 2)"
q "INSERT INTO jobs (kind, arguments, created_at) VALUES ('build', '{\"kernel\": \"k\"}', 3)"
elp queue list > "$T/out" 2> "$T/err"
check "list with corrupt rows succeeds" test $? -eq 0
check "...skips them" test "$(wc -l < "$T/out")" -eq 1
check "...and reports each" test "$(cat "$T/err")" = "$(printf '%s\n' \
	"warning: job 2 skipped: its arguments are not a JSON object" \
	"warning: job 3 skipped: a build job needs a kernel and a patch")"

# ---- run: a built kernel tree is catalogued, then its builds queued ----
elp patch add "$patches/cmdline.patch" > /dev/null
elp queue run > "$T/out" 2> "$T/err"
check "run exits 1 when a job failed" test $? -eq 1
check "the kernel job is done" test "$(state 1)" = "done"
# its System.map is snapshotted into the catalogue's store, as kernel add does
check "...the kernel is catalogued by its release" \
	test "$(q 'SELECT name, release, source, symbols_path, livepatch FROM kernels')" = \
	"6.6.30-gentoo|6.6.30-gentoo|$src|$T/symbols/$(sha256sum < "$src/System.map" | cut -d' ' -f1).gz|1"
check "...with a kernel-add event" test "$(q "SELECT count(*) FROM events WHERE kind = 'kernel-add'")" = 1
check "corrupt queued jobs fail, saying so" test "$(error 2)" = "corrupt job: its arguments are not a JSON object"
check "...both" test "$(state 3)" = failed
check "a build of the catalogue's patch was queued by the kernel job" \
	test "$(q "SELECT kind, origin, state FROM jobs WHERE id = 4")" = "build|job 1|failed"
check "...and run through elp_build (a build row, failed on the fake tree)" \
	test "$(q 'SELECT count(*) FROM builds')" = 1
error 4 > "$T/e4"
check "...its error names the build and its log" grep -q "^build 1 failed: .*; log: $T/cache/" "$T/e4"
check "run reports each job" grep -q "^job 1 done: kernel source $src\$" "$T/out"
check "...and each failure on stderr" grep -q "^error: job 4 failed: patch cmdline for kernel 6.6.30-gentoo: build 1 failed" "$T/err"
check "finished jobs have no runner" test "$(q "SELECT count(*) FROM jobs WHERE runner_pid IS NOT NULL OR runner_host IS NOT NULL")" = 0
check "build jobs keep the key of their inputs" test "$(q "SELECT length(inputs_key) FROM jobs WHERE id = 4")" = 64
check "...in its column, not in the arguments" test "$(q "SELECT arguments FROM jobs WHERE id = 4")" = '{"kernel":"6.6.30-gentoo","patch":"cmdline"}'
elp queue run > "$T/out" 2>&1
check "an empty queue runs nothing, successfully" test $? -eq 0
check "...quietly" test ! -s "$T/out"

# ---- refusals are not retried until the inputs change ----
q "UPDATE jobs SET state = 'refused', error = 'a simulated refusal' WHERE id = 4"
elp queue add build --kernel 6.6.30-gentoo --patch cmdline --origin test > /dev/null
elp queue run > /dev/null 2> "$T/err"
check "run exits 2 when a job was refused and none failed" test $? -eq 2
check "a build refused before is not built again" test "$(q 'SELECT count(*) FROM builds')" = 1
check "...the job is refused with the reason and where it was seen" \
	test "$(state 5)|$(error 5)" = "refused|a simulated refusal (as in job 4; not built again until the kernel, the patch or elivepatch changes)"
check "...and run says it was refused" grep -q "^error: job 5 refused: patch cmdline for kernel 6.6.30-gentoo: a simulated refusal (as in job 4;" "$T/err"
elp queue add build --kernel 6.6.30-gentoo --patch cmdline --origin test > /dev/null
elp queue run > /dev/null 2>&1
check "a third time it names the first refusal, once" \
	test "$(error 6)" = "$(error 5)"
q "DELETE FROM jobs WHERE id = 6"
elp queue clear > /dev/null
check "clear keeps refused jobs (what stops the rebuild)" test "$(q "SELECT group_concat(id) FROM jobs WHERE state = 'refused'")" = "4,5"
q "UPDATE kernels SET config_sha256 = 'changed'"
elp queue add build --kernel 6.6.30-gentoo --patch cmdline --origin test > /dev/null
elp queue run > /dev/null 2>&1
check "once the kernel changed it is built again" test "$(q 'SELECT count(*) FROM builds')" = 2
elp queue add build --kernel nosuch --patch cmdline --origin test > /dev/null
elp queue run > /dev/null 2>&1
check "a build for an unknown kernel fails saying so" test "$(error 7)" = "no kernel 'nosuch' in the catalogue"

# ---- kernels that cannot be catalogued ----
make_source_tree "$T/usr/src/linux-6.7-gentoo"
elp queue add kernel --kernel-source "$T/usr/src/linux-6.7-gentoo" --origin test > /dev/null
built_tree "$T/usr/src/linux-nolp" 6.8.0 n
elp queue add kernel --kernel-source "$T/usr/src/linux-nolp" --origin test > /dev/null
elp queue run > /dev/null 2>&1
check "sources not configured yet: failed, saying when they will be" \
	test "$(error 8)" = "'$T/usr/src/linux-6.7-gentoo' has no .config yet: the kernel is catalogued when it is built and installed (installkernel or kernel-install queue it then)"
check "a kernel without CONFIG_LIVEPATCH is not catalogued" \
	test "$(error 9)" = "'$T/usr/src/linux-nolp/.config' has no CONFIG_LIVEPATCH=y: livepatches cannot load into kernel '6.8.0'"
check "...only the first kernel is" test "$(q 'SELECT count(*) FROM kernels')" = 1

# ---- an installed kernel, by release (installkernel, kernel-install) ----
R=$T/root
built_tree "$T/usr/src/linux-6.9.1-gentoo" 6.9.1-gentoo
mkdir -p "$R/lib/modules/6.9.1-gentoo" "$R/boot"
ln -s "$T/usr/src/linux-6.9.1-gentoo" "$R/lib/modules/6.9.1-gentoo/build"
cp "$T/usr/src/linux-6.9.1-gentoo/.config" "$R/boot/config-6.9.1-gentoo"
echo image > "$R/boot/vmlinuz-6.9.1-gentoo"
elp queue add kernel --kernel-release 6.9.1-gentoo --origin test > /dev/null
ELIVEPATCH_ROOT=$R elp queue run > /dev/null 2>&1
check "a release is catalogued from /lib/modules (build: the source) and /boot" \
	test "$(q "SELECT source, build_dir, config_path, image_path FROM kernels WHERE name = '6.9.1-gentoo'")" = \
	"$T/usr/src/linux-6.9.1-gentoo|$T/usr/src/linux-6.9.1-gentoo|$R/boot/config-6.9.1-gentoo|$R/boot/vmlinuz-6.9.1-gentoo"
elp queue add kernel --kernel-release 6.9.1-gentoo --image "$R/boot/vmlinuz-6.9.1-gentoo" --origin again > /dev/null
ELIVEPATCH_ROOT=$R elp queue run > "$T/again.out" 2>&1
check "catalogued again: done, still one kernel" \
	test "$(q "SELECT state FROM jobs WHERE kind = 'kernel' ORDER BY id DESC LIMIT 1")|$(q "SELECT count(*) FROM kernels WHERE name = '6.9.1-gentoo'")" = "done|1"
elp queue add kernel --kernel-release 9.9.9 --origin test > /dev/null
ELIVEPATCH_ROOT=$R elp queue run > /dev/null 2>&1
check "an uninstalled release fails naming what is missing" \
	test "$(q "SELECT error FROM jobs ORDER BY id DESC LIMIT 1")" = "no kernel source for 9.9.9: '$R/lib/modules/9.9.9/build' is missing"

# ---- overlay: a Portage repository's fixes (elivepatch-overlay(5)) are catalogued, their
# builds queued for the kernels each is for ----
mkdir -p "$T/overlay/livepatches/cmdline-again" "$T/overlay/livepatches/overlay-fix" \
	"$T/overlay/sys-kernel/x/files"
printf 'summary = the same as patch cmdline\n' > "$T/overlay/livepatches/cmdline-again/fix.conf"
cp "$patches/cmdline.patch" "$T/overlay/livepatches/cmdline-again/cmdline.patch"
printf 'summary = a fix for 6.6 kernels\ncve = CVE-2024-1086\nversions = 6.6 <= v < 6.7\n' \
	> "$T/overlay/livepatches/overlay-fix/fix.conf"
sed 's/live patched by elivepatch/patched from the overlay/' "$patches/cmdline.patch" > "$T/overlay/livepatches/overlay-fix/fix.patch"
cp "$patches/cmdline.patch" "$T/overlay/sys-kernel/x/files/not-a-livepatch.patch"
q "DELETE FROM jobs"
elp queue add overlay --overlay ours --location "$T/overlay" --origin test > /dev/null
elp queue run > "$T/overlay.out" 2>&1
check "the overlay's fix is catalogued as OVERLAY:FIX (nothing outside livepatches/)" \
	test "$(q "SELECT group_concat(name, ' ') FROM (SELECT name FROM patches ORDER BY id)")" = "cmdline ours:overlay-fix"
check "...with its origin and CVE" test "$(q "SELECT p.origin, c.cve FROM patches p JOIN patch_cves c ON c.patch_id = p.id WHERE p.name = 'ours:overlay-fix'")" = \
	"$T/overlay/livepatches/overlay-fix/fix.patch|CVE-2024-1086"
check "...the overlay recorded as synced by Portage" test "$(q "SELECT name, path, managed FROM overlays")" = "ours|$T/overlay|0"
check "...and a build queued only for the kernel in its version range" \
	test "$(q "SELECT group_concat(json_extract(arguments, '\$.kernel') || ' ' || json_extract(arguments, '\$.patch'), ', ') FROM (SELECT arguments FROM jobs WHERE kind = 'build' ORDER BY id)")" = "6.6.30-gentoo ours:overlay-fix"
check "a fix whose patch is already catalogued under another name fails the job, naming both" \
	test "$(q "SELECT error FROM jobs WHERE kind = 'overlay' ORDER BY id DESC LIMIT 1")" = \
	"cannot add '$T/overlay/livepatches/cmdline-again/cmdline.patch' as 'ours:cmdline-again': same content as catalogued patch 'cmdline' (id 1)"
check "...and the runner says the fix was skipped" \
	grep -q "fix 'cmdline-again' skipped" "$T/overlay.out"

sed 's/live patched by elivepatch/patched again/' "$patches/cmdline.patch" > "$T/overlay/livepatches/overlay-fix/fix.patch"
rm -r "$T/overlay/livepatches/cmdline-again"
q "DELETE FROM jobs"
elp queue add overlay --overlay ours --location "$T/overlay" --origin test > /dev/null
elp queue run > /dev/null 2>&1
check "a changed fix is updated in place (same patch id)" \
	test "$(q "SELECT id FROM patches WHERE name = 'ours:overlay-fix'")|$(q "SELECT count(*) FROM patches")" = "2|2"
check "...its new content catalogued" \
	test "$(q "SELECT count(*) FROM patches WHERE name = 'ours:overlay-fix' AND content LIKE '%patched again%'")" = 1
check "...the old one kept in patch_versions" \
	test "$(q "SELECT count(*) FROM patch_versions WHERE patch_id = 2 AND content LIKE '%patched from the overlay%'")" = 1
check "...a patch-update event recorded" test "$(q "SELECT count(*) FROM events WHERE kind = 'patch-update' AND patch_id = 2")" = 1
check "...and its build queued again" \
	test "$(q "SELECT group_concat(json_extract(arguments, '\$.patch'), ' ') FROM jobs WHERE kind = 'build'")" = "ours:overlay-fix"
check "...the overlay job done" test "$(q "SELECT state FROM jobs WHERE kind = 'overlay'")" = done

# ---- the runner's lock ----
q "DELETE FROM jobs"
elp queue add kernel --kernel-source "$src" --origin test > /dev/null
flock "$DB.queue-lock" sleep 3 &
holder=$!
sleep 1
elp queue run > "$T/out" 2>&1
check "a second runner leaves (exit 0)" test $? -eq 0
check "...saying why" grep -q "another 'elivepatch queue run' is running" "$T/out"
check "...and runs nothing" test "$(state 1)" = queued
elp queue run --wait > "$T/out" 2>&1
check "--wait waits for the lock, then runs" test "$(state 1)" = "done"
wait "$holder"

# ---- a real runner killed in the middle of a build ----
# the kernel's source tarball is a FIFO nobody writes to: the build blocks
# reading it, so the runner is caught in the middle of the job (a SIGTERM sent
# before the runner reached the open must still stop it, not be lost)
q "DELETE FROM jobs"
mkfifo "$T/blocked.tar.xz"
elp kernel add --release 6.1.0 --name k-blocked --source "$T/src" --config "$T/config" > /dev/null
q "UPDATE kernels SET source = '$T/blocked.tar.xz', source_kind = 'tarball' WHERE name = 'k-blocked'"
elp queue add build --kernel k-blocked --patch cmdline --origin test > /dev/null
id=$(q "SELECT max(id) FROM jobs")
running() { # PID: wait until the job is running under PID
	i=0
	while [ "$(q "SELECT runner_pid FROM jobs WHERE id = $id AND state = 'running'")" != "$1" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
"$ELP" --db "$DB" queue run > /dev/null 2>&1 &
runner=$!
running "$runner"
kill -KILL "$runner"
wait "$runner" 2> /dev/null
check "a runner killed with SIGKILL leaves its job running" test "$(state "$id")" = running
"$ELP" --db "$DB" queue run > /dev/null 2> "$T/err" &
runner=$!
running "$runner"
check "the next runner queues it again and runs it" grep -q "job $id: its runner died; queued again" "$T/err"
kill -TERM "$runner"
# a runner that does not stop is killed after a minute, and the check fails
i=0
while kill -0 "$runner" 2> /dev/null && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -KILL "$runner" 2> /dev/null
wait "$runner"
check "a runner stopped with SIGTERM exits 1" test $? -eq 1
check "...saying the job is queued again" grep -q "interrupted: the running job is queued again" "$T/err"
check "...and it is, without a runner" test "$(state "$id")|$(q "SELECT arguments, runner_pid, runner_host FROM jobs WHERE id = $id")" = \
	'queued|{"kernel":"k-blocked","patch":"cmdline"}||'
q "DELETE FROM jobs WHERE id = $id"

# ---- --every: a service's loop, stopped by SIGTERM ----
q "DELETE FROM jobs"
elp queue add kernel --kernel-source "$src" --origin first > /dev/null
"$ELP" --db "$DB" queue run --every 1 > "$T/every.out" 2>&1 &
runner=$!
sleep 2
elp queue add kernel --kernel-source "$src" --origin second > /dev/null
i=0
while [ "$(q "SELECT count(*) FROM jobs WHERE kind = 'kernel' AND state = 'done'")" != 2 ] && [ $i -lt 20 ]; do
	sleep 1
	i=$((i + 1))
done
check "--every runs the jobs queued while it waits" \
	test "$(q "SELECT group_concat(state) FROM jobs WHERE kind = 'kernel'")" = "done,done"
kill -TERM "$runner"
wait "$runner"
check "...and stops cleanly (exit 0) on SIGTERM" test $? -eq 0
check "...having left the lock free" flock -n "$DB.queue-lock" true
elp queue run --every -1 > /dev/null 2>&1
check "--every needs a positive number" test $? -eq 129

# ---- recovery: a running job whose runner died is run again ----
sh -c 'exit 0' &
dead=$!
wait "$dead"
host=$(uname -n)
# a live process named like a runner (sleep under the runner's name)
mkdir -p "$T/fake" && cp "$(command -v sleep)" "$T/fake/elivepatch"
"$T/fake/elivepatch" 60 &
runner_alive=$!
sleep 1
now=$(date +%s)
q "INSERT INTO jobs (id, kind, state, arguments, runner_pid, runner_host, created_at, started_at) VALUES
 (50, 'kernel', 'running', json_object('source', '$src'), $dead, '$host', 1, 1),
 (51, 'kernel', 'running', json_object('source', '$src'), $runner_alive, '$host', 1, $now),
 (52, 'kernel', 'running', json_object('source', '$src'), $dead, 'elsewhere', 1, 1),
 (53, 'kernel', 'running', json_object('source', '$src'), $$, '$host', 1, $now),
 (54, 'kernel', 'running', json_object('source', '$src'), $runner_alive, '$host', 1, 1)"
elp queue run > /dev/null 2> "$T/err"
check "a job whose runner died is queued again and run" test "$(state 50)" = "done"
check "...saying so" grep -q "job 50: its runner died; queued again" "$T/err"
check "a job whose runner lives is left alone" test "$(state 51)" = running
check "a job of another host is left alone" test "$(state 52)" = running
check "a job whose runner's pid now runs another program is queued again" test "$(state 53)" = "done"
check "a job whose runner's pid is a process started after the job is queued again" test "$(state 54)" = "done"
kill "$runner_alive"
wait "$runner_alive" 2> /dev/null

# ---- clear ----
elp queue add kernel --kernel-source "$T/usr/src/linux-6.7-gentoo" --origin test > /dev/null
elp queue clear > "$T/out"
check "clear removes finished jobs" test "$(q "SELECT group_concat(state) FROM (SELECT state FROM jobs ORDER BY id)")" = "running,running,queued"
check "...and says how many" grep -qx "removed [1-9][0-9]* jobs\?" "$T/out"
elp queue clear --all > /dev/null
check "clear --all also removes queued jobs, never running ones" test "$(q "SELECT group_concat(state) FROM (SELECT state FROM jobs ORDER BY id)")" = "running,running"
elp queue clear --done --all > /dev/null 2>&1
check "--done and --all exclude each other" test $? -eq 129

# ---- migration 005: jobs of a version 4 catalogue ----
old=$T/old.db
for f in "$(dirname "$0")"/../../data/schema/00[1-4]-*.sql; do
	sqlite3 "$old" < "$f"
done
sqlite3 "$old" "PRAGMA user_version = 4;
INSERT INTO jobs (id, kind, state, arguments, error, created_at) VALUES
 (1, 'build', 'failed', '{\"kernel\":\"k\",\"patch\":\"p\",\"key\":\"abc\"}', 'refused: nothing to patch', 1),
 (2, 'build', 'failed', '{\"kernel\":\"k\",\"patch\":\"p\",\"key\":\"abd\"}', 'build 3 failed: x', 2),
 (3, 'kernel', 'running', '{\"source\":\"/s\",\"runner_pid\":77,\"runner_host\":\"h\"}', NULL, 3),
 (4, 'kernel', 'queued', '{\"source\": ', NULL, 4);
INSERT INTO builds (id, kernel_release, module_name, inputs_sha256, status, created_at, started_at, builder_pid) VALUES
 (1, 'r', 'm', 'x', 'running', 10, 11, NULL), (2, 'r', 'm', 'y', 'running', 10, 11, $$);"
"$ELP" --db "$old" queue list > /dev/null 2>&1
check "migration 005: a refusal becomes state refused, its reason without the prefix" \
	test "$(sqlite3 "$old" "SELECT state, error, inputs_key, arguments FROM jobs WHERE id = 1")" = 'refused|nothing to patch|abc|{"kernel":"k","patch":"p"}'
check "...a failure stays failed, its key in its column" \
	test "$(sqlite3 "$old" "SELECT state, error, inputs_key FROM jobs WHERE id = 2")" = 'failed|build 3 failed: x|abd'
check "...a running job's runner moves to its columns" \
	test "$(sqlite3 "$old" "SELECT state, runner_pid, runner_host, arguments FROM jobs WHERE id = 3")" = 'running|77|h|{"source":"/s"}'
check "...a corrupt row is kept as it was" \
	test "$(sqlite3 "$old" "SELECT arguments FROM jobs WHERE id = 4")" = '{"source": '
check "...the new state is checked" \
	sh -c "! sqlite3 '$old' \"UPDATE jobs SET state = 'lost' WHERE id = 1\" 2> /dev/null"
check "a build left running before builder_pid existed is marked interrupted" \
	test "$(sqlite3 "$old" "SELECT status, reason, finished_at FROM builds WHERE id = 1")" = 'failed|interrupted|11'
check "...one with a process is left to the build's own check" \
	test "$(sqlite3 "$old" "SELECT status FROM builds WHERE id = 2")" = running

t_done
