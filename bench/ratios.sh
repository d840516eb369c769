#!/usr/bin/env bash
# Prints the ratios between cache benchmarks and their floors, from the
# medians that benchstat computes over one or more raw `go test -bench`
# output files. Every ratio uses medians from the same files, so the cache
# and its floors share the machine's conditions.
#
# Usage: bench/ratios.sh READ_OUTPUT...
set -euo pipefail

BENCHSTAT=(go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da)

"${BENCHSTAT[@]}" -format csv "$@" 2>/dev/null | awk -F, '
# benchstat -format csv prints one table per unit: a header line whose
# second field is the unit, then "name,median,CI" lines, then a blank line.
$2 == "sec/op" || $2 == "allocs/op" { unit = $2; next }
$0 == "" { unit = ""; next }
unit != "" && $1 != "geomean" {
	name = $1
	sub(/-[0-9]+$/, "", name) # drop the GOMAXPROCS suffix
	median[unit, name] = $2
}

function ns(name) {
	if (!((("sec/op") SUBSEP name) in median)) {
		printf "missing benchmark %s in the input\n", name > "/dev/stderr"
		missing = 1
		return 0
	}
	return median["sec/op", name] * 1e9
}

function row(label, cache, floor, target,    ratio) {
	ratio = floor > 0 ? cache / floor : 0
	printf "%-70s %10.2f %10.2f %7.2f  %s\n", label, cache, floor, ratio, target
}

END {
	printf "%-70s %10s %10s %7s  %s\n", "comparison (medians, ns/op)", "cache", "floor", "ratio", "target"
	row("GetSecretString / SyncMapLoad", ns("GetSecretString"), ns("SyncMapLoad"), "<= 2")
	row("GetSecretString / RWMutexMapLoad", ns("GetSecretString"), ns("RWMutexMapLoad"), "-")
	row("GetSecretStringParallel/hot / SyncMapLoadParallel/hot", ns("GetSecretStringParallel/hot"), ns("SyncMapLoadParallel/hot"), "<= 2")
	row("GetSecretStringParallel/keys=1000 / SyncMapLoadParallel/keys=1000", ns("GetSecretStringParallel/keys=1000"), ns("SyncMapLoadParallel/keys=1000"), "<= 2")
	row("GetSecretStringParallel/hot / RWMutexMapLoadParallel/hot", ns("GetSecretStringParallel/hot"), ns("RWMutexMapLoadParallel/hot"), "-")
	row("GetSecretStringParallel/keys=1000 / RWMutexMapLoadParallel/keys=1000", ns("GetSecretStringParallel/keys=1000"), ns("RWMutexMapLoadParallel/keys=1000"), "-")
	row("GetSecretStringHook / (HookGet + GetSecretString)", ns("GetSecretStringHook"), ns("HookGet") + ns("GetSecretString"), "<= 1")
	row("GetSecretStringHook / (CallGet + GetSecretString)", ns("GetSecretStringHook"), ns("CallGet") + ns("GetSecretString"), "-")
	row("GetSecretBinary / (BytesClone + GetSecretString)", ns("GetSecretBinary"), ns("BytesClone") + ns("GetSecretString"), "-")

	printf "\n%-70s %10s\n", "allocations (medians, allocs/op)", "allocs/op"
	split("GetSecretString GetSecretStringParallel/hot GetSecretStringParallel/keys=1000 GetSecretStringHook GetSecretBinary", names, " ")
	for (i = 1; i in names; i++) {
		printf "%-70s %10s\n", names[i], median["allocs/op", names[i]]
	}
	exit missing
}'

# The same ratios for each run on its own, to show how far they spread. A run
# ends at the PASS line that the test binary prints.
echo
awk '
/^Benchmark/ {
	name = $1
	sub(/^Benchmark/, "", name)
	sub(/-[0-9]+$/, "", name) # drop the GOMAXPROCS suffix
	ns[name] = $3
}
/^PASS/ {
	if (!printed) {
		printf "%-4s %28s %28s %28s %28s\n", "run", "GetSecretString/SyncMap", "Parallel/hot / SyncMap", "Parallel/keys=1000 / SyncMap", "Hook / (HookGet+GetString)"
		printed = 1
	}
	run++
	printf "%-4d %28.2f %28.2f %28.2f %28.2f\n", run,
		ns["GetSecretString"] / ns["SyncMapLoad"],
		ns["GetSecretStringParallel/hot"] / ns["SyncMapLoadParallel/hot"],
		ns["GetSecretStringParallel/keys=1000"] / ns["SyncMapLoadParallel/keys=1000"],
		ns["GetSecretStringHook"] / (ns["HookGet"] + ns["GetSecretString"])
	delete ns
}' "$@"
