#!/usr/bin/env bash
# Run netwarden's tests: tests/run.sh [unit|integration|all] (default all).
#
# unit:        every tests/unit/test_X.c's binary .output/tests/test_X (cmocka);
#              cases counted from cmocka's "[  PASSED  ] N test(s)." and
#              "[  FAILED  ] N test(s)" lines; a missing binary, or one that
#              crashes or exits non-zero without a failure summary, is 1 failure.
# integration: every tests/integration/test_*.py under /usr/bin/python3 (TAP:
#              "ok N - ...", "not ok N - ...", plan "1..N"); planned checks that
#              never ran count as failures, and so does a non-zero exit with no
#              "not ok".
# Each suite runs under a timeout; its full output goes to .output/test-logs/.
# The last line printed is exactly "N passed, N failed"; exit 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=${1:-all}
case "$mode" in
unit | integration | all) ;;
*) echo "usage: $0 [unit|integration|all]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: the tests load BPF programs and create network namespaces: run as root" >&2
	exit 2
fi

PY=/usr/bin/python3
UNIT_TIMEOUT=${NW_UNIT_TIMEOUT:-60}
INTEGRATION_TIMEOUT=${NW_INTEGRATION_TIMEOUT:-300}
LOGDIR=.output/test-logs
mkdir -p "$LOGDIR"

# Classic tracepoints need tracefs; mounting it again is harmless.
if ! mountpoint -q /sys/kernel/tracing 2>/dev/null; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

total_pass=0
total_fail=0

# elapsed START_US: seconds since START_US (from $EPOCHREALTIME), one decimal
elapsed() {
	local us=$((${EPOCHREALTIME/./} - $1))
	printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# why NAME RC TIMEOUT EXTRA: one line saying how a suite ended badly
why() {
	if [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; then
		echo "run.sh: $1 timed out after ${3}s"
	elif [ "$2" -gt 128 ]; then
		echo "run.sh: $1 was killed by signal $(($2 - 128)) $4"
	else
		echo "run.sh: $1 exited $2 $4"
	fi
}

# report KIND NAME PASS FAIL SECONDS LOG
report() {
	local kind=$1 name=$2 pass=$3 fail=$4 secs=$5 log=$6 status=ok
	[ "$fail" -gt 0 ] && status=FAIL
	printf '%-4s %-12s %-28s %4d passed, %d failed  (%ss)\n' "$status" "$kind" "$name" "$pass" "$fail" "$secs"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
}

# show_failure LOG: the lines worth reading from a failed suite
show_failure() {
	local log=$1
	echo "  --- $log (excerpt) ---"
	if grep -qE '^not ok' "$log"; then
		grep -E '^not ok|^# |^run.sh:|^Traceback|Error' "$log" | head -n 60 | sed 's/^/  /'
	else
		tail -n 40 "$log" | sed 's/^/  /'
	fi
	echo "  ---"
}

run_unit() {
	local src name bin log rc pass fail start secs n
	shopt -s nullglob
	local srcs=(tests/unit/test_*.c)
	shopt -u nullglob
	if [ ${#srcs[@]} -eq 0 ]; then
		echo "run.sh: no unit tests in tests/unit/" >&2
		report unit "(none)" 0 1 0 /dev/null
		return
	fi
	for src in "${srcs[@]}"; do
		name=$(basename "$src" .c)
		bin=.output/tests/$name
		log=$LOGDIR/$name.log
		if [ ! -x "$bin" ]; then
			echo "run.sh: $bin was not built (run make)" >"$log"
			report unit "$name" 0 1 0 "$log"
			show_failure "$log"
			continue
		fi
		start=${EPOCHREALTIME/./}
		env -u CMOCKA_MESSAGE_OUTPUT -u CMOCKA_TEST_ABORT \
			timeout -k 5 "$UNIT_TIMEOUT" "$bin" >"$log" 2>&1 </dev/null
		rc=$?
		secs=$(elapsed "$start")
		pass=0
		fail=0
		while read -r n; do pass=$((pass + n)); done < <(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$log")
		while read -r n; do fail=$((fail + n)); done < <(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$log")
		if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
			why "$name" "$rc" "$UNIT_TIMEOUT" "without a failure summary" >>"$log"
			fail=1
		elif [ "$rc" -eq 0 ] && [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
			echo "run.sh: $name printed no cmocka summary" >>"$log"
			fail=1
		fi
		report unit "$name" "$pass" "$fail" "$secs" "$log"
		[ "$fail" -gt 0 ] && show_failure "$log"
	done
}

run_integration() {
	local t name log rc pass fail plan start secs ran
	shopt -s nullglob
	local tests=(tests/integration/test_*.py)
	shopt -u nullglob
	if [ ${#tests[@]} -eq 0 ]; then
		echo "run.sh: no integration tests in tests/integration/" >&2
		report integration "(none)" 0 1 0 /dev/null
		return
	fi
	for t in "${tests[@]}"; do
		name=$(basename "$t" .py)
		log=$LOGDIR/$name.log
		start=${EPOCHREALTIME/./}
		PYTHONDONTWRITEBYTECODE=1 timeout -k 10 "$INTEGRATION_TIMEOUT" "$PY" "$t" >"$log" 2>&1 </dev/null
		rc=$?
		secs=$(elapsed "$start")
		pass=$(grep -cE '^ok [0-9]+' "$log")
		fail=$(grep -cE '^not ok [0-9]+' "$log")
		plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
		ran=$((pass + fail))
		if [ -n "$plan" ] && [ "$plan" -gt "$ran" ]; then
			echo "run.sh: $name planned $plan checks, ran $ran" >>"$log"
			fail=$((fail + plan - ran))
		fi
		if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
			why "$name" "$rc" "$INTEGRATION_TIMEOUT" "" >>"$log"
			fail=1
		elif [ "$rc" -eq 0 ] && [ "$ran" -eq 0 ]; then
			echo "run.sh: $name ran no check" >>"$log"
			fail=1
		fi
		report integration "$name" "$pass" "$fail" "$secs" "$log"
		if [ "$fail" -gt 0 ]; then
			show_failure "$log"
		fi
	done
}

case "$mode" in
unit) run_unit ;;
integration) run_integration ;;
all) run_unit; run_integration ;;
esac

echo "logs: $LOGDIR/"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
