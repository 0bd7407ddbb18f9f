#!/usr/bin/env bash
# Instructions per DNS response: netwarden's parser (unprivileged/dns/dns_parse.c)
# against ldns_wire2pkt on the same corpus (tests/data/dns/*.r.bin), counted
# by callgrind inside the benchmark loop only (bench/dns_parse_bench.c).
# Instruction counts do not depend on machine load, so one run is enough.
#
#   bench/dns_parse.sh            (make bench-dns builds the driver and runs this)
#   ITER=500 bench/dns_parse.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=.output/bench
BIN=$OUT/dns_parse_bench
ITER=${ITER:-200}
mkdir -p "$OUT"
for tool in valgrind callgrind_annotate; do
	command -v "$tool" >/dev/null || { echo "dns_parse.sh: $tool missing (scripts/deps.sh bench)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "dns_parse.sh: $BIN missing (make bench-dns)" >&2; exit 2; }

# instructions MODE: prints "IR MESSAGES" for ITER iterations of MODE
instructions() {
	local mode=$1 cg=$OUT/callgrind.dns.$1 ir msgs
	msgs=$(valgrind --tool=callgrind --callgrind-out-file="$cg" --toggle-collect=bench_loop \
		"$BIN" "$mode" "$ITER" 2>"$cg.log" | sed -n 's/^messages \([0-9]*\) .*/\1/p')
	[ -n "$msgs" ] || { echo "dns_parse.sh: $mode run failed, see $cg.log" >&2; exit 1; }
	ir=$(callgrind_annotate "$cg" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
	[ -n "$ir" ] || { echo "dns_parse.sh: no totals in $cg" >&2; exit 1; }
	echo "$ir $msgs"
}

read -r ir_parse msgs < <(instructions ours)
read -r ir_use _ < <(instructions ours_use)
read -r ir_ldns _ < <(instructions ldns)
n=$((msgs * ITER))

printf 'DNS response parsing, %d messages x %d iterations (callgrind, instructions per message)\n' "$msgs" "$ITER"
printf '  %-44s %8d\n' "netwarden dns_parse" $((ir_parse / n))
printf '  %-44s %8d\n' "netwarden dns_parse + names/addresses decoded" $((ir_use / n))
printf '  %-44s %8d\n' "ldns ldns_wire2pkt + ldns_pkt_free" $((ir_ldns / n))
awk -v a="$ir_ldns" -v b="$ir_parse" -v c="$ir_use" 'BEGIN {
	printf "ratio ldns/netwarden: %.1fx (parse only), %.1fx (parse + decode)\n", a / b, a / c }'
