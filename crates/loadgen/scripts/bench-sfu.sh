#!/usr/bin/env bash
# SFU benchmark: `silta dev` and `silta-loadgen` (release builds) in one
# loopback-only network namespace, so no media leaves the machine.
#
#   crates/loadgen/scripts/bench-sfu.sh ROOMS [PARTICIPANTS] [SECONDS]
#
# Prints the load generator's summary (add --json via LOADGEN_ARGS, e.g.
# LOADGEN_ARGS="--json --client light"). SFU_CPUS and LOADGEN_CPUS pin
# `silta dev` and the load generator to CPUs (taskset lists, e.g. 0 and 1).
# SFU_CPU_QUOTA caps `silta dev` at that many cores in all (e.g. 0.5; a
# cgroup v1 `cpu` group, period 20 ms), to compare worker counts at equal
# CPU. SILTA_BIN_DIR runs the `silta` and `silta-loadgen` found there
# instead of building (to compare two builds' binaries, copied aside, in
# alternated runs).
# Needs root (or CAP_SYS_ADMIN) for `unshare -n`.
set -euo pipefail
rooms=${1:-10}
participants=${2:-3}
seconds=${3:-30}
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/silta-target-release}"
if [ -n "${SILTA_BIN_DIR:-}" ]; then
  bin="$SILTA_BIN_DIR"
  [ -x "$bin/silta" ] && [ -x "$bin/silta-loadgen" ] || { echo "no silta and silta-loadgen in $bin" >&2; exit 1; }
else
  cargo build --release -q -p silta -p silta-loadgen
  bin="$CARGO_TARGET_DIR/release"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec unshare -n -- bash -c '
  set -e
  ip link set lo up
  cd "$1"
  pin() { if [ -n "$1" ]; then echo taskset -c "$1"; fi; }
  SILTA_LOG__FILTER=warn $(pin "$7") "$2/silta" dev >dev.out 2>dev.err &
  dev=$!
  if [ -n "$9" ]; then
    group=/sys/fs/cgroup/cpu/silta-bench-$$
    mkdir -p "$group"
    echo 20000 >"$group/cpu.cfs_period_us"
    awk -v q="$9" "BEGIN { printf \"%d\n\", q * 20000 }" >"$group/cpu.cfs_quota_us"
    echo "$dev" >"$group/cgroup.procs"
  fi
  for _ in $(seq 1 100); do
    if [ -f .silta/keys/signing-key.pem ] && (exec 3<>/dev/tcp/127.0.0.1/7100) 2>/dev/null; then break; fi
    sleep 0.1
  done
  $(pin "$8") "$2/silta-loadgen" --rooms "$3" --participants "$4" --duration "$5s" --sfu-pid "$dev" $6 || status=$?
  kill "$dev"
  if [ -n "$9" ]; then wait "$dev" 2>/dev/null || true; rmdir "$group"; fi
  exit ${status:-0}
' bash "$work" "$bin" "$rooms" "$participants" "$seconds" "${LOADGEN_ARGS:-}" "${SFU_CPUS:-}" "${LOADGEN_CPUS:-}" "${SFU_CPU_QUOTA:-}"
