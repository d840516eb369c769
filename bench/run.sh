#!/usr/bin/env bash
# Runs every measurement behind BENCHMARKS.md and writes raw output,
# benchstat summaries, ratios and profile listings to $OUT.
#
# Environment:
#   OUT            output directory (default /tmp/secretcache-bench)
#   READ_RUNS      runs of the read benchmarks (default 10)
#   SCENARIO_RUNS  runs of the scenario and memory benchmarks (default 6,
#                  the fewest for which benchstat prints a confidence interval)
#
# The read benchmarks run as READ_RUNS separate processes, one after the
# other, so that each run measures the cache and its floors within seconds
# of each other and noise from other work on the machine reaches both.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-/tmp/secretcache-bench}
READ_RUNS=${READ_RUNS:-10}
SCENARIO_RUNS=${SCENARIO_RUNS:-6}
BENCHSTAT=(go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da)

READ='^Benchmark(SyncMapLoad|RWMutexMapLoad|GetSecretString|HookGet|CallGet|GetSecretStringHook|BytesClone|GetSecretBinary)(Parallel)?$'
SCENARIO='^Benchmark(ConcurrentFirstReads|ColdStart|BusySecret|Outage|ReadDuringSlowRefresh|RefreshNowAfterRotation)$'
MEMORY='^BenchmarkMemory$'

mkdir -p "$OUT"
{
	go version
	echo "cores: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	uname -sr
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)," \
		"files changed since: $(git status --porcelain 2>/dev/null | wc -l)"
} | tee "$OUT/machine.txt"

TEST="$OUT/secretcache.test"
go test -c -o "$TEST" .
bench() { "$TEST" -test.run='^$' "$@"; }

echo "== read benchmarks, $READ_RUNS runs"
: >"$OUT/read.txt"
for _ in $(seq "$READ_RUNS"); do
	bench -test.bench="$READ" -test.benchmem >>"$OUT/read.txt"
done

echo "== scenario and memory benchmarks, $SCENARIO_RUNS runs"
: >"$OUT/scenario.txt"
: >"$OUT/memory.txt"
for _ in $(seq "$SCENARIO_RUNS"); do
	bench -test.bench="$SCENARIO" >>"$OUT/scenario.txt"
	bench -test.bench="$MEMORY" >>"$OUT/memory.txt"
done

echo "== benchstat and ratios"
"${BENCHSTAT[@]}" "$OUT/read.txt" >"$OUT/read.benchstat.txt"
"${BENCHSTAT[@]}" "$OUT/scenario.txt" >"$OUT/scenario.benchstat.txt"
"${BENCHSTAT[@]}" "$OUT/memory.txt" >"$OUT/memory.benchstat.txt"
bench/ratios.sh "$OUT/read.txt" | tee "$OUT/ratios.txt"

echo "== CPU profiles of the hit paths"
# Each line: output file name, then the -test.bench pattern.
while read -r file pattern; do
	bench -test.bench="$pattern" -test.cpuprofile="$OUT/$file.cpu.pprof" >/dev/null
	go tool pprof -top -nodecount=25 "$TEST" "$OUT/$file.cpu.pprof" >"$OUT/$file.cpu.txt" 2>/dev/null
done <<'PATTERNS'
string ^BenchmarkGetSecretString$
hook ^BenchmarkGetSecretStringHook$
binary ^BenchmarkGetSecretBinary$
parallel-hot ^BenchmarkGetSecretStringParallel$/^hot$
parallel-1000 ^BenchmarkGetSecretStringParallel$/^keys=1000$
syncmap ^BenchmarkSyncMapLoad$
PATTERNS

echo "== allocations of the hit paths"
bench -test.bench='^Benchmark(GetSecretString|GetSecretBinary)$' -test.benchmem \
	-test.memprofilerate=1 -test.memprofile="$OUT/read.mem.pprof" >/dev/null
go tool pprof -sample_index=alloc_objects -top -nodecount=15 -focus='SecretCache' \
	"$TEST" "$OUT/read.mem.pprof" >"$OUT/read.mem.txt" 2>/dev/null

echo "== mutex contention of the parallel reads"
bench -test.bench='^BenchmarkGetSecretStringParallel$' -test.mutexprofile="$OUT/mutex.pprof" >/dev/null
go tool pprof -top "$TEST" "$OUT/mutex.pprof" >"$OUT/mutex.txt" 2>/dev/null

echo "== retained heap of 10,000 secrets, by allocation site"
bench -test.bench='^BenchmarkMemory$/^client=fake$' -test.benchtime=1x -test.memprofilerate=1 \
	-secretcache.heapprofile="$OUT/heap" >/dev/null
for index in inuse_space inuse_objects; do
	go tool pprof -sample_index="$index" -top -nodecount=20 \
		-base "$OUT/heap-fake.before.pprof" "$TEST" "$OUT/heap-fake.after.pprof" >"$OUT/heap.$index.txt" 2>/dev/null
done

echo "== every benchmark once, as CI runs them"
start=$(date +%s)
go test -run='^$' -bench=. -benchtime=1x . >"$OUT/once.txt"
echo "-benchtime=1x took $(($(date +%s) - start)) s" | tee -a "$OUT/once.txt"

echo "output in $OUT"
