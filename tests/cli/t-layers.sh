#!/bin/sh
# No circle of files in the library (issue 9): the file-level call graph of src/lib and
# src/engine, read from the sanitizer build's object files (nm: the global symbols each
# object defines and the ones it uses), has no cycle. A file that calls up into the layer
# that calls it (overlay.c into jobs-run.c, which runs overlays) is a circle; such a
# circle is listed with the symbols behind each of its edges.
# The cycle finder is first run on small made-up graphs, so that a finder that sees
# nothing cannot pass.
. "$(dirname "$0")/../lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
obj=$top/build/san

# Circles knowingly left, one per line as `circles` prints them (files in sorted order),
# each with a comment saying why. Empty: the library has none.
allowed=''

# edges: "FROM TO SYMBOL" for each global symbol FROM's object uses and TO's defines,
# from the object files named on stdin (paths relative to $obj, src/... .o)
edges() {
	while read -r o; do
		f=${o#src/}
		f=${f%.o}.c
		nm -g --defined-only "$obj/$o" | awk -v f="$f" 'NF >= 3 && $2 ~ /^[A-TV-Z]$/ { print "D", f, $3 }'
		nm -u "$obj/$o" | awk -v f="$f" '{ print "U", f, $NF }'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ n++; from[n] = $2; sym[n] = $3 }
		END {
			for (i = 1; i <= n; i++)
				if ((sym[i] in def) && def[sym[i]] != from[i])
					print from[i], def[sym[i]], sym[i]
		}' | sort -u
}

# circles: from "FROM TO [SYMBOL]" lines on stdin, one line per circle (strongly
# connected set of files), its files in sorted order; nothing when there is none
circles() {
	sort -u | awk '
		{
			if (!(($1, $2) in e)) { e[$1, $2] = 1; r[$1, $2] = 1 }
			for (k = 1; k <= 2; k++)
				if (!($k in seen)) { seen[$k] = 1; nodes[++n] = $k }
		}
		END {
			# sorted nodes (insertion sort: a few hundred files at most)
			for (i = 2; i <= n; i++) {
				v = nodes[i]
				for (j = i - 1; j >= 1 && nodes[j] > v; j--)
					nodes[j + 1] = nodes[j]
				nodes[j + 1] = v
			}
			# transitive closure (Warshall)
			for (k = 1; k <= n; k++)
				for (i = 1; i <= n; i++)
					if ((nodes[i], nodes[k]) in r)
						for (j = 1; j <= n; j++)
							if ((nodes[k], nodes[j]) in r)
								r[nodes[i], nodes[j]] = 1
			for (i = 1; i <= n; i++) {
				a = nodes[i]
				if ((a in done) || !((a, a) in r))
					continue
				line = ""
				for (j = i; j <= n; j++) {
					b = nodes[j]
					if (((a, b) in r) && ((b, a) in r)) {
						done[b] = 1
						line = line (line == "" ? "" : " ") b
					}
				}
				print line
			}
		}'
}

# ---- the cycle finder on graphs whose circles are known ----
out=$(printf '%s\n' "a b" "b c" "c a" "c d" "d e" "e d" "e f" | circles)
check "a made-up graph with two circles shows both" \
	test "$out" = "$(printf '%s\n' "a b c" "d e")"
out=$(printf '%s\n' "x y s1" "y z s2" "x z s3" "z w s4" | circles)
check "a made-up graph without a circle shows none" test -z "$out"
out=$(printf '%s\n' "p q" "q p" | circles)
check "two files calling each other are a circle" test "$out" = "p q"

# ---- the library's objects ----
cd "$obj" 2> /dev/null || bail "no sanitizer build in $obj (make san)"
missing=
nsrc=0
for c in "$top"/src/lib/*.c "$top"/src/engine/*.c; do
	nsrc=$((nsrc + 1))
	o=$obj/${c#"$top"/}
	o=${o%.c}.o
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ]; then
		missing="$missing ${c#"$top"/}"
	fi
done
check "every library source has an up-to-date object in build/san ($nsrc sources)" test -z "$missing"
[ -z "$missing" ] || bail "missing or stale objects (make san):$missing"

graph=$(ls src/lib/*.o src/engine/*.o | edges)
check "the objects' symbols give a call graph between files" test "$(printf '%s\n' "$graph" | wc -l)" -gt 50
# a known layer edge, so that a graph read wrongly (no symbols resolved) cannot pass
check "...in which the build's driver calls its passes" \
	sh -c 'printf "%s\n" "$1" | grep -q "^engine/build.c engine/build-"' - "$graph"

found=$(printf '%s\n' "$graph" | circles)
printf '%s\n' "$found" | while read -r c; do
	[ -n "$c" ] || continue
	if printf '%s\n' "$allowed" | grep -qxF "$c"; then
		ok "circle allowed (see the allow-list): $c"
		continue
	fi
	not_ok "circle of files: $c"
	# its edges and the symbols behind them
	printf '%s\n' "$graph" | awk -v set=" $c " '
		index(set, " " $1 " ") && index(set, " " $2 " ") { print "#   " $1 " -> " $2 ": " $3 }'
done
# an allowed circle that is gone leaves the allow-list
printf '%s\n' "$allowed" | while read -r c; do
	[ -n "$c" ] || continue
	printf '%s\n' "$found" | grep -qxF "$c" ||
		echo "not ok - allowed circle no longer exists, remove it from the allow-list: $c"
done | grep . && _t_failed=1
check "no circle of files in src/lib and src/engine (other than allowed)" \
	test -z "$(printf '%s\n' "$found" | grep -vxF "${allowed:-/}")"
t_done
