#!/bin/sh
# Crash safety and concurrency without a real kernel: the fault-injection
# switch (ELIVEPATCH_FAULT, honoured by the sanitizer build the tests run)
# kills `build` and `queue run` with SIGKILL at their named points; after
# each kill the catalogue passes PRAGMA integrity_check, no build is left
# succeeded without its artefact, the next run recovers and succeeds.  A
# writer waiting for the catalogue's lock says what it waits for and
# never reports "database is locked".  The real build's points (compile,
# diff, module, record) are killed in e2e/t-crash-build.sh.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

unset ELIVEPATCH_CONFIG ELIVEPATCH_ROOT
ELIVEPATCH_CACHE=$T/cache
export ELIVEPATCH_CACHE
patches=$(cd "$(dirname "$0")/../../contrib/examples" && pwd)
q() { sqlite3 "$DB" "$1"; }

# intact: the catalogue is consistent and nothing succeeded without its artefact
intact() {
	[ "$(q 'PRAGMA integrity_check')" = ok ] || return 1
	[ "$(q 'PRAGMA foreign_key_check' | wc -l)" -eq 0 ] || return 1
	q "SELECT artefact_path, artefact_sha256 FROM builds WHERE status = 'succeeded'" |
		while IFS='|' read -r path sha; do
			[ -f "$path" ] && [ "$(sha256sum < "$path" | cut -d' ' -f1)" = "$sha" ] || exit 1
		done
}

elp kernel add --release 6.1.0 --name k --source "$T/src" --config "$T/config" > /dev/null 2>&1
elp patch add "$patches/cmdline.patch" > /dev/null

# ---- the switch ----
ELIVEPATCH_FAULT=build:nowhere elp build --kernel k --patch cmdline > /dev/null 2>&1
check "a point that is never reached kills nothing (the build ends: exit 1)" test $? -eq 1
ELIVEPATCH_FAULT=build:tree elp build --kernel k --patch cmdline > /dev/null 2> "$T/err"
check "ELIVEPATCH_FAULT=build:tree kills the build with SIGKILL" test $? -eq 137
check "...saying where" grep -q "^warning: fault injection: killed at build:tree\$" "$T/err"
if [ -x "$(dirname "$ELP")/../elivepatch" ]; then
	rel=$(cd "$(dirname "$ELP")/.." && pwd)/elivepatch
	ELIVEPATCH_FAULT=build:tree "$rel" --db "$DB" build --kernel k --patch cmdline > /dev/null 2>&1
	check "the release build ignores the switch" test $? -eq 1
	ELIVEPATCH_FAULT=build:tree "$rel" --db "$DB" --fault-injection build --kernel k --patch cmdline > /dev/null 2>&1
	check "...unless --fault-injection is given" test $? -eq 137
	"$rel" --help | grep -q -e --fault-injection
	check "--fault-injection is not in --help" test $? -ne 0
fi

# ---- kill -9 at each point of a build, then the next build ----
# (the fake tree fails in the tree pass: its points are tree and record)
for point in tree record; do
	ELIVEPATCH_FAULT=build:$point elp build --kernel k --patch cmdline > /dev/null 2>&1
	check "build killed at $point: exit 137" test $? -eq 137
	check "...the catalogue is intact" intact
	check "...its build is left running" test "$(q 'SELECT status FROM builds ORDER BY id DESC LIMIT 1')" = running
	elp build --kernel k --patch cmdline > /dev/null 2>&1
	check "...the next build marks it failed: interrupted" \
		test "$(q "SELECT count(*) FROM builds WHERE status = 'running'")" = 0
	check "...and runs to its end (here: failed on the fake tree, recorded)" \
		test "$(q "SELECT status FROM builds ORDER BY id DESC LIMIT 1")" = failed
	check "...still intact" intact
done
check "every killed build is recorded as interrupted" \
	test "$(q "SELECT count(*) FROM builds WHERE reason = 'interrupted'")" -ge 2
check "...with an outcome event for each finished build only" \
	test "$(q "SELECT count(*) FROM events WHERE kind = 'build'")" = "$(q "SELECT count(*) FROM builds WHERE reason IS NOT 'interrupted'")"

# ---- kill -9 of queue run: claimed, finishing ----
elp queue clear --all > /dev/null
for point in claimed finish; do
	elp queue add build --kernel k --patch cmdline --origin test > /dev/null
	id=$(q 'SELECT max(id) FROM jobs')
	ELIVEPATCH_FAULT=queue:$point elp queue run > /dev/null 2>&1
	check "queue run killed at $point: exit 137" test $? -eq 137
	check "...the job is left running with its runner" \
		test "$(q "SELECT state, runner_pid IS NOT NULL FROM jobs WHERE id = $id")" = "running|1"
	check "...the catalogue is intact" intact
	elp queue run > /dev/null 2> "$T/err"
	check "...the next runner queues it again" grep -q "job $id: its runner died; queued again" "$T/err"
	check "...and finishes it" test "$(q "SELECT state, runner_pid FROM jobs WHERE id = $id")" = "failed|"
	check "...no build left running" test "$(q "SELECT count(*) FROM builds WHERE status = 'running'")" = 0
done

# ---- waiting for the catalogue's write lock ----
# another process holds the write lock for 3 s: a writer waits, says for
# what, and succeeds; a reader is not held up at all (WAL)
(
	echo "BEGIN IMMEDIATE; INSERT INTO events (time, kind) VALUES (1, 'test');"
	sleep 3
	echo "COMMIT;"
) | sqlite3 "$DB" &
holder=$!
sleep 1
start=$(date +%s)
elp history > /dev/null 2>&1
check "a reader does not wait for a writer" test $? -eq 0 -a $(($(date +%s) - start)) -lt 2
elp queue add kernel --kernel-source "$T/src" --origin "hook during a write" > "$T/out" 2> "$T/err"
check "a writer waits for the lock and succeeds" test $? -eq 0
check "...saying what it waits for" grep -q "waiting for the catalogue '$DB': another elivepatch process" "$T/err"
check "...never 'database is locked'" sh -c "! grep -qi 'database is locked' '$T/err'"
wait "$holder"
check "...its job is queued" grep -q "^queued job" "$T/out"

# ---- a hook enqueueing while a build is running ----
# the kernel's tarball is a FIFO nobody writes to: the build blocks in it
mkfifo "$T/blocked.tar.xz"
elp kernel add --release 6.1.0 --name k-blocked --source "$T/src" --config "$T/config" > /dev/null 2>&1
q "UPDATE kernels SET source = '$T/blocked.tar.xz', source_kind = 'tarball' WHERE name = 'k-blocked'"
"$ELP" --db "$DB" build --kernel k-blocked --patch cmdline > /dev/null 2>&1 &
builder=$!
i=0
while [ "$(q "SELECT count(*) FROM builds WHERE status = 'running'")" = 0 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
start=$(date +%s)
elp queue add build --kernel k --patch cmdline --origin "hook during a build" > /dev/null 2> "$T/err"
check "a hook queues a job while a build runs" test $? -eq 0
check "...at once" test $(($(date +%s) - start)) -lt 2
elp build list > /dev/null 2>&1
check "build list answers during the build" test $? -eq 0
kill -KILL "$builder"
wait "$builder" 2> /dev/null
check "the catalogue is intact after all of it" intact

t_done
