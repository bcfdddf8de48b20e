#!/bin/sh
# elivepatch toolchain: detect, add, list, check against a kernel's
# CONFIG_CC_VERSION_TEXT.  Fake compilers (shell scripts) keep it exact.
. "$(dirname "$0")/../lib.sh"

ELP=${ELIVEPATCH:-./build/san/elivepatch}
case $ELP in /*) ;; *) ELP=$(pwd)/$ELP ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/elp-t-toolchain.XXXXXX")
trap 'rm -rf "$T"' EXIT
DB=$T/c.db
elp() { "$ELP" --db "$DB" "$@"; }
dump() { sqlite3 "$DB" .dump; }
q() { sqlite3 "$DB" "$1"; }
[ -x "$ELP" ] || bail "no binary at $ELP"
command -v sqlite3 > /dev/null || bail "sqlite3 is needed"

# fake_cc DIR NAME VERSION-TAIL: answers --version like gcc does (its own name first)
fake_cc() {
	mkdir -p "$1"
	cat > "$1/$2" <<SCRIPT
#!/bin/sh
case "\$1" in
--version) echo "$2 $3"; echo "Copyright (C) fake" ;;
-dumpmachine) echo "x86_64-linux-gnu" ;;
*) exit 1 ;;
esac
SCRIPT
	chmod +x "$1/$2"
}
fake_cc "$T/bin" gcc-99 "(Fake 99.1-1) 99.1.0"
fake_cc "$T/bin" clang-98 "(Fake clang) 98.0.0"
ln -s gcc-99 "$T/bin/gcc"
fake_cc "$T/only-gcc" gcc "(Fake 99.1-1) 99.1.0"
WANT="gcc-99 (Fake 99.1-1) 99.1.0"

# --- detect -----------------------------------------------------------------
PATH="$T/bin:$PATH" elp toolchain detect > "$T/out" 2>&1
check "toolchain detect succeeds" test $? -eq 0
check "...lists an installed gcc-N with its version line and target" \
	grep -q "^installed	$T/bin/gcc-99	$WANT	x86_64-linux-gnu	no$" "$T/out"
check "...and clang-N" grep -q "^installed	$T/bin/clang-98	" "$T/out"
check "...once per real program (gcc -> gcc-99 is not listed twice)" \
	test "$(grep -c "	gcc-99 (Fake" "$T/out")" -eq 1
if command -v cc > /dev/null; then
	check "...and the default cc first" \
		test "$(head -n 1 "$T/out" | cut -f1,2)" = "default	$(command -v cc)"
fi
check "...without --add nothing is catalogued" test "$(q "SELECT count(*) FROM toolchains")" = 0

PATH="$T/bin:$PATH" elp toolchain detect --add > "$T/out" 2>&1
check "toolchain detect --add succeeds" test $? -eq 0
check "...records what it found" \
	test "$(q "SELECT count(*) FROM toolchains WHERE cc_path = '$T/bin/gcc-99' AND version_text = '$WANT' AND target = 'x86_64-linux-gnu'")" = 1
check "...says it added them" grep -q "^installed	$T/bin/gcc-99	.*	added, id [0-9]*$" "$T/out"
n=$(q "SELECT count(*) FROM toolchains")
check "...one event per toolchain" test "$(q "SELECT count(*) FROM events WHERE kind = 'toolchain-add'")" = "$n"
PATH="$T/bin:$PATH" elp toolchain detect --add > "$T/out" 2>&1
check "a second detect --add adds nothing" test "$(q "SELECT count(*) FROM toolchains")" = "$n"
check "...and shows the ids" grep -q "^installed	$T/bin/gcc-99	.*	id [0-9]*$" "$T/out"

PATH="$T/bin:$PATH" elp --json toolchain detect > "$T/out" 2>&1
check "toolchain detect --json" grep -q "{\"role\":\"installed\",\"cc_path\":\"$T/bin/gcc-99\",\"version_text\":\"$WANT\",\"target\":\"x86_64-linux-gnu\",\"id\":[0-9]*,\"added\":false}" "$T/out"

# --- add / list ---------------------------------------------------------------
rm -f "$DB"*
fake_cc "$T/more" gcc-97 "(Fake 97) 97.0.0"
elp toolchain add --cc "$T/more/gcc-97" > "$T/out" 2>&1
check "toolchain add --cc PATH succeeds" test $? -eq 0
check "...saying what it added" test "$(cat "$T/out")" = "added toolchain '$T/more/gcc-97' (id 1): gcc-97 (Fake 97) 97.0.0, x86_64-linux-gnu"
(cd "$T/more" && PATH="$T/bin:$PATH" "$ELP" --db "$DB" toolchain add --cc gcc-99) > "$T/out" 2>&1
check "toolchain add --cc NAME looks it up in PATH" test "$(q "SELECT cc_path FROM toolchains WHERE id = 2")" = "$T/bin/gcc-99"
elp toolchain list > "$T/out" 2>&1
check "toolchain list shows both" test "$(cut -f1-4 "$T/out")" = "1	$T/more/gcc-97	gcc-97 (Fake 97) 97.0.0	x86_64-linux-gnu
2	$T/bin/gcc-99	$WANT	x86_64-linux-gnu"
elp --json toolchain list 2>&1 | tr -d '\n' > "$T/out"
check "toolchain list --json" grep -q "^\[{\"id\":1,\"cc_path\":\"$T/more/gcc-97\",\"version_text\":\"gcc-97 (Fake 97) 97.0.0\",\"target\":\"x86_64-linux-gnu\",\"created_at\":[0-9]*},{\"id\":2," "$T/out"

before=$(dump)
elp toolchain add --cc "$T/more/gcc-97" > "$T/out" 2>&1
check "adding the same compiler again is refused" test $? -eq 1
check "...saying so" grep -q "^error: toolchain '$T/more/gcc-97' is already catalogued (id 1)$" "$T/out"
printf 'not a program\n' > "$T/more/plain"
elp toolchain add --cc "$T/more/plain" > "$T/out" 2>&1
check "a file that is not executable is refused" test $? -eq 1
check "...saying so" grep -q "^error: '$T/more/plain' is not executable$" "$T/out"
printf '#!/bin/sh\necho "notcc 1.0"\n[ "$1" = --version ]\n' > "$T/more/notcc"
chmod +x "$T/more/notcc"
elp toolchain add --cc "$T/more/notcc" > "$T/out" 2>&1
check "a program that is not a compiler is refused" test $? -eq 1
check "...saying so" grep -q "^error: '$T/more/notcc' is not a compiler: '$T/more/notcc -dumpmachine' failed$" "$T/out"
elp toolchain add --cc "$T/more" > "$T/out" 2>&1
check "a directory is refused" grep -q "^error: '$T/more' is not a compiler: not a regular file$" "$T/out"
PATH="$T/bin" elp toolchain add --cc no-such-cc > "$T/out" 2>&1
check "an unknown compiler name is refused" grep -q "^error: cannot find compiler 'no-such-cc' in PATH$" "$T/out"
elp toolchain add > "$T/out" 2>&1
check "toolchain add without --cc is a usage error" test $? -eq 129
elp toolchain add --cc "$T/more/gcc-97" extra > "$T/out" 2>&1
check "toolchain add with an extra argument is a usage error" test $? -eq 129
check "...and none of that changed the catalogue" test "$(dump)" = "$before"

# --- check ------------------------------------------------------------------------
rm -f "$DB"*
elp toolchain list > /dev/null 2>&1 || bail "cannot create a catalogue"
q "INSERT INTO kernels (id, name, release, config, config_sha256, cc_version_text, created_at) VALUES (1, 'fake', '6.1.0-fake', '', '', '$WANT', 1)"
q "INSERT INTO kernels (id, name, release, config, config_sha256, cc_version_text, created_at) VALUES (2, 'other', '6.1.0-other', '', '', 'gcc-42 (Elsewhere 42) 42.0.0', 1)"
q "INSERT INTO kernels (id, name, release, config, config_sha256, cc_version_text, created_at) VALUES (3, 'unknown', '6.1.0-unknown', '', '', NULL, 1)"
before=$(dump)

PATH="$T/bin:$PATH" elp toolchain check fake > "$T/out" 2>&1
check "toolchain check: an installed compiler with the same version line" test $? -eq 0
check "...is a match" grep -q "^result: *match$" "$T/out"
check "...naming it" grep -q "^compiler: *$T/bin/gcc-99 ($WANT)$" "$T/out"
check "...and the kernel's compiler" grep -q "^built with: *$WANT$" "$T/out"

PATH="$T/only-gcc" elp toolchain check fake > "$T/out" 2>&1
check "toolchain check: the same compiler under another name" test $? -eq 0
check "...is compatible" grep -q "^result: *compatible$" "$T/out"
check "...naming it" grep -q "^compiler: *$T/only-gcc/gcc (gcc (Fake 99.1-1) 99.1.0)$" "$T/out"

PATH="$T/bin:$PATH" elp toolchain check --cc "$T/only-gcc/gcc" fake > "$T/out" 2>&1
check "toolchain check --cc: a compatible compiler passes" test $? -eq 0
check "...as compatible" grep -q "^result: *compatible$" "$T/out"
check "...and says which installed compiler would match exactly" grep -q "^installed: *$T/bin/gcc-99 matches exactly$" "$T/out"

PATH="$T/bin:$PATH" elp toolchain check --cc "$T/bin/clang-98" fake > "$T/out" 2>&1
check "toolchain check --cc: another compiler fails" test $? -eq 1
check "...as a mismatch" grep -q "^result: *mismatch$" "$T/out"

PATH="$T/bin:$PATH" elp toolchain check other > "$T/out" 2>&1
check "toolchain check: no compiler like the kernel's" test $? -eq 1
check "...is a mismatch" grep -q "^result: *mismatch$" "$T/out"
check "...and says none installed matches" grep -q "^installed: *no installed compiler matches$" "$T/out"

PATH="$T/bin:$PATH" elp --json toolchain check 1 > "$T/out" 2>&1
check "toolchain check --json (kernel by id)" test "$(cat "$T/out")" = "{\"kernel\":\"fake\",\"cc_version_text\":\"$WANT\",\"result\":\"match\",\"cc_path\":\"$T/bin/gcc-99\",\"version_text\":\"$WANT\",\"installed_match\":\"$T/bin/gcc-99\"}"

q "INSERT INTO toolchains (cc_path, version_text, target, created_at) VALUES ('/catalogued/gcc-42', 'gcc-42 (Elsewhere 42) 42.0.0', 'x86_64-linux-gnu', 1)"
PATH="$T/bin:$PATH" elp toolchain check other > "$T/out" 2>&1
check "toolchain check: a catalogued toolchain counts" test $? -eq 0
check "...naming it" grep -q "^compiler: */catalogued/gcc-42 " "$T/out"
q "DELETE FROM toolchains"

elp toolchain check unknown > "$T/out" 2>&1
check "toolchain check of a kernel without CONFIG_CC_VERSION_TEXT fails" test $? -eq 1
check "...saying why" grep -q "^error: kernel 'unknown' does not record its compiler" "$T/out"
elp toolchain check nosuch > "$T/out" 2>&1
check "toolchain check of an unknown kernel fails" test $? -eq 1
check "...saying so" grep -q "^error: no kernel 'nosuch' in the catalogue" "$T/out"
elp toolchain check > "$T/out" 2>&1
check "toolchain check without KERNEL is a usage error" test $? -eq 129
check "toolchain check changes nothing" test "$(dump)" = "$before"

t_done
