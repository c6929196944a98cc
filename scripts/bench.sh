#!/usr/bin/env bash
# Runs every benchmark of the crate with one command: criterion (cache hit),
# then the load scenarios (fetch, stampede, rotation, memory), then the
# template server under wrk. Raw results (JSON) go to
# $CARGO_TARGET_DIR/bench-results/ (default target/bench-results/), with a
# summary.md of every figure; the latency plot goes to docs/bench-latency.svg.
#
#   scripts/bench.sh                 # full run, about 10 minutes on 2 cores
#   BENCH_QUICK=1 scripts/bench.sh   # short durations, about 2 minutes
#
# Settings (environment; full-run defaults in brackets):
#   CRITERION_WARM_UP [1] / CRITERION_SECONDS [3]   per criterion benchmark
#   BENCH_SECONDS [1] / BENCH_FETCH_ROUNDS [10]  fetch: each segment (one
#                                mode, one round) and the rounds; modes
#                                alternate A/B/C then C/B/A
#   BENCH_CONCURRENCY [1,16,64]  fetch workers
#   BENCH_ROUNDS [3]             stampede rounds
#   BENCH_ROTATION_SECONDS [20] / BENCH_ROTATION_ROUNDS [3]
#   BENCH_STAMPEDE_CALLERS [10000], BENCH_STAMPEDE_SUBJECTS [1000],
#   BENCH_STAMPEDE_PER_SUBJECT [10]
#   BENCH_MEMORY_ENTRIES [100000]
#   BENCH_WRK_SECONDS [3], BENCH_WRK_ROUNDS [5], BENCH_WRK_CONNECTIONS [64],
#   BENCH_WRK_THREADS [2]
#   BENCH_ONLY="criterion fetch stampede rotation memory wrk"  a subset
#
# wrk is Debian's package: installed with apt-get when missing and running
# as root. The plot is drawn by scripts/bench_report.py with python3's
# standard library only (no matplotlib). All traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
export BENCH_RESULTS_DIR="$(realpath -m "${BENCH_RESULTS_DIR:-$CARGO_TARGET_DIR/bench-results}")"
mkdir -p "$BENCH_RESULTS_DIR"

if [ -n "${BENCH_QUICK:-}" ]; then
  : "${CRITERION_WARM_UP:=0.5}" "${CRITERION_SECONDS:=1}"
  : "${BENCH_SECONDS:=0.5}" "${BENCH_FETCH_ROUNDS:=4}" "${BENCH_ROUNDS:=1}"
  : "${BENCH_ROTATION_SECONDS:=6}" "${BENCH_ROTATION_ROUNDS:=1}"
  : "${BENCH_MEMORY_ENTRIES:=20000}" "${BENCH_WRK_SECONDS:=2}" "${BENCH_WRK_ROUNDS:=2}"
  export BENCH_SECONDS BENCH_FETCH_ROUNDS BENCH_ROUNDS BENCH_ROTATION_SECONDS \
    BENCH_ROTATION_ROUNDS BENCH_MEMORY_ENTRIES BENCH_WRK_SECONDS BENCH_WRK_ROUNDS
fi
CRITERION_WARM_UP=${CRITERION_WARM_UP:-1}
CRITERION_SECONDS=${CRITERION_SECONDS:-3}
ONLY=" ${BENCH_ONLY:-criterion fetch stampede rotation memory wrk} "
wants() { [[ "$ONLY" == *" $1 "* ]]; }

step() { printf '\n=== %s ===\n' "$*"; }
started=$(date +%s)

step "machine"
python3 - "$BENCH_RESULTS_DIR/machine.json" <<'EOF'
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal")), "?")
info = {
    "nproc": os.cpu_count(),
    "cpu": cpu,
    "memory": mem,
    "kernel": platform.release(),
    "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
    "wrk": (subprocess.run(["sh", "-c", "wrk --version 2>&1 | head -1"], capture_output=True, text=True).stdout.strip() or "not installed"),
    "load average at start": " ".join(open("/proc/loadavg").read().split()[:3]),
}
json.dump(info, open(sys.argv[1], "w"), indent=2)
print(json.dumps(info, indent=2))
EOF

step "build (bench profile)"
cargo bench --no-run

if wants criterion; then
  step "criterion: cache hit (token_cache)"
  # Fresh estimates only: a benchmark left from an earlier run would be
  # reported as if it were part of this one.
  rm -rf "$CARGO_TARGET_DIR/criterion"
  cargo bench --bench token_cache -- --noplot \
    --warm-up-time "$CRITERION_WARM_UP" --measurement-time "$CRITERION_SECONDS" \
    2>&1 | tee "$BENCH_RESULTS_DIR/token_cache.log"
fi

for scenario in fetch stampede rotation memory; do
  if wants "$scenario"; then
    step "load: $scenario"
    cargo bench --bench load -- "$scenario" 2>&1 | tee "$BENCH_RESULTS_DIR/$scenario.log"
  fi
done

if wants wrk; then
  if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    step "install wrk (Debian package)"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  fi
  step "load: wrk against the template server"
  cargo bench --bench load -- wrk 2>&1 | tee "$BENCH_RESULTS_DIR/wrk.log"
fi

step "report"
python3 scripts/bench_report.py --results "$BENCH_RESULTS_DIR" \
  --criterion "$CARGO_TARGET_DIR/criterion" --svg docs/bench-latency.svg \
  | tee "$BENCH_RESULTS_DIR/report.log"
echo
echo "took $(( $(date +%s) - started )) s; results in $BENCH_RESULTS_DIR, plot in docs/bench-latency.svg"
