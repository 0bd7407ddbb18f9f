#!/usr/bin/env bash
# Instructions per HTTP/1.x fragment: netwarden's USM parser
# (unprivileged/usm/http_parse.c) against http-parser (Debian's
# libhttp-parser-dev; llhttp is not packaged in Debian 12) on the same
# fragments (the first 208 bytes of 16 typical requests and responses, in
# bench/http_parse_bench.c), counted by callgrind inside the benchmark loop
# only. Also shown: the whole per-record path of the tracker (parse, match,
# aggregate into a sketch). Instruction counts do not depend on machine load,
# so one run is enough.
#
#   bench/http_parse.sh            (builds the driver into .output/bench/)
#   ITER=2000 bench/http_parse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.output/bench
BIN=$OUT/http_parse_bench
ITER=${ITER:-1000}
CC=${CC:-cc}
mkdir -p "$OUT"
for tool in valgrind callgrind_annotate "$CC"; do
	command -v "$tool" >/dev/null || { echo "http_parse.sh: $tool missing (scripts/deps.sh bench)" >&2; exit 2; }
done
[ -e /usr/include/http_parser.h ] || { echo "http_parse.sh: libhttp-parser-dev missing (scripts/deps.sh bench)" >&2; exit 2; }

# Same optimisation and hardening as the worker's build (Makefile CFLAGS).
SRCS="bench/http_parse_bench.c unprivileged/usm/http_parse.c unprivileged/usm/http_path.c
	unprivileged/usm/http_track.c unprivileged/usm/sketch.c unprivileged/usm/usm_table.c"
# shellcheck disable=SC2086
if [ ! -x "$BIN" ] || [ -n "$(find $SRCS unprivileged/usm/*.h -newer "$BIN" 2>/dev/null)" ]; then
	$CC -O2 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -fstack-protector-strong \
		-D_FORTIFY_SOURCE=2 -fPIE -pie -I. $SRCS -lhttp_parser -lm -o "$BIN"
fi

# instructions MODE: prints "IR MESSAGES PARSED" for ITER iterations of MODE
instructions() {
	local mode=$1 cg=$OUT/callgrind.http.$1 ir line
	line=$(valgrind --tool=callgrind --callgrind-out-file="$cg" --toggle-collect=bench_loop \
		"$BIN" "$mode" "$ITER" 2>"$cg.log" | sed -n 's/^messages \([0-9]*\) parsed \([0-9]*\)$/\1 \2/p')
	[ -n "$line" ] || { echo "http_parse.sh: $mode run failed, see $cg.log" >&2; exit 1; }
	ir=$(callgrind_annotate "$cg" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
	[ -n "$ir" ] || { echo "http_parse.sh: no totals in $cg" >&2; exit 1; }
	echo "$ir $line"
}

read -r ir_ours msgs ok_ours < <(instructions ours)
read -r ir_hp _ ok_hp < <(instructions http_parser)
read -r ir_hpl _ ok_hpl < <(instructions http_parser_line)
read -r ir_track _ _ < <(instructions track)
n=$((msgs * ITER))

printf 'HTTP/1.x fragment parsing, %d fragments (first 208 bytes) x %d iterations\n' "$msgs" "$ITER"
printf '(callgrind, instructions per fragment)\n'
printf '  %-52s %8d  (%d/%d accepted)\n' "netwarden usm_http_parse" $((ir_ours / n)) "$ok_ours" "$msgs"
printf '  %-52s %8d  (%d/%d without error)\n' "http-parser 2.9 http_parser_execute (+ on_url)" $((ir_hp / n)) "$ok_hp" "$msgs"
printf '  %-52s %8d  (%d/%d)\n' "http-parser, stopped after the start line" $((ir_hpl / n)) "$ok_hpl" "$msgs"
printf '  %-52s %8d\n' "netwarden usm_http_track_record (parse+match+sketch)" $((ir_track / n))
awk -v a="$ir_hp" -v b="$ir_ours" -v c="$ir_track" -v d="$ir_hpl" 'BEGIN {
	printf "ratio http-parser/netwarden: %.2fx (same bytes, both through the headers)\n", a / b
	printf "ratio http-parser start line only/netwarden: %.2fx; http-parser/whole record path: %.2fx\n", d / b, a / c }'
