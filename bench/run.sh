#!/usr/bin/env bash
# Runs every side-by-side benchmark of the bench module and prints one table
# pairing Benchmark<Work>/chassis with each Benchmark<Work>/<peer>
# (cmd/pairs). Results go to bench/results/: raw.txt (go test output),
# benchstat.txt (benchstat's summary of it) and table.md (the pairs table).
#
# The suite runs ROUNDS times (default 6); each round runs every benchmark
# once, so that chassis and its peers alternate in time and a change in the
# machine's load hits both alike (go test -count runs a sub-benchmark's
# repetitions back to back instead). Six samples per benchmark give benchstat
# its confidence intervals and the pairs table its Mann-Whitney p-values.
#
# Per-benchmark run lengths: Keys1M inserts 1M keys per op, so it runs 1 op
# per round (-benchtime=1x); everything else runs for BENCHTIME (default 1s)
# per round, which also gives the 64 MiB Timeout benchmark one op of
# net/http.TimeoutHandler (about 1s) and thousands of guard.Timeout.
# On 2 cores the whole run takes about 10 to 15 minutes.
#
# The Redis benchmarks use CHASSIS_REDIS_ADDR; if it is unset and a Redis
# answers on 127.0.0.1:6379, that one is used, else they are skipped.
#
# Usage: [ROUNDS=6] [BENCHTIME=1s] bench/run.sh [-test.bench regexp, default .]
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-6}
BENCHTIME=${BENCHTIME:-1s}
FILTER=${1:-.}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

if [ -z "${CHASSIS_REDIS_ADDR:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  export CHASSIS_REDIS_ADDR=127.0.0.1:6379
fi

mkdir -p results
raw=results/raw.txt
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .

{
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# go: $(go version)"
  echo "# cpus: $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# redis: ${CHASSIS_REDIS_ADDR:-unset (Redis benchmarks skipped)}"
} > "$raw"
cat "$raw"

start=$SECONDS
for round in $(seq "$ROUNDS"); do
  echo "== round $round/$ROUNDS ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
  "$bin" -test.run '^$' -test.bench "$FILTER" -test.skip 'Keys1M' \
    -test.benchtime "$BENCHTIME" -test.benchmem | tee -a "$raw" | grep '^Benchmark' || true
  if [[ BenchmarkKeys1M =~ $FILTER ]]; then
    "$bin" -test.run '^$' -test.bench 'Keys1M' \
      -test.benchtime 1x -test.benchmem | tee -a "$raw" | grep '^Benchmark' || true
  fi
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - start))s" | tee -a "$raw"

(cd /tmp && go run "$BENCHSTAT" "$OLDPWD/$raw") > results/benchstat.txt 2>&1 || echo "benchstat failed: see results/benchstat.txt"
go run ./cmd/pairs "$raw" | tee results/table.md
