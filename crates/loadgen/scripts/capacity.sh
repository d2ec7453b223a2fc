#!/usr/bin/env bash
# SFU capacity on one core: `silta dev` pinned to CPU 0 (one forwarding
# worker), the light load generator pinned to CPU 1, in a loopback-only
# namespace (bench-sfu.sh). Runs each room count in turn, one row each, and
# stops after the first that is past capacity: delivery under 99.9 % or the
# SFU's forwarding p99 over 1 ms.
#
#   crates/loadgen/scripts/capacity.sh [SECONDS] [ROOMS ...]
#
# Defaults: 20 s per step; 10 20 30 40 50 60 80 100 three-party rooms.
# SFU_CPUS / LOADGEN_CPUS (empty: not pinned), SFU_CPU_QUOTA and
# SILTA_SFU__WORKERS change the setup, and SILTA_BIN_DIR runs binaries
# copied aside instead of building (bench-sfu.sh).
set -euo pipefail
seconds=${1:-20}
shift || true
steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(10 20 30 40 50 60 80 100)
here="$(dirname "$0")"
# Unset: the defaults; set but empty: not pinned.
export SFU_CPUS="${SFU_CPUS-0}" LOADGEN_CPUS="${LOADGEN_CPUS-1}"
echo "| rooms | forwarded pkt/s | SFU cores | SFU µs/pkt | loadgen cores | delivery | SFU fwd p50/p99 µs | end-to-end p50/p99 µs |"
echo "|---|---|---|---|---|---|---|---|"
for rooms in "${steps[@]}"; do
  out=$(LOADGEN_ARGS="--json --client light" "$here/bench-sfu.sh" "$rooms" 3 "$seconds" 2>/dev/null) || {
    echo "| $rooms | the run failed (join or measurement); see bench-sfu.sh $rooms 3 $seconds |"
    break
  }
  verdict=$(python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
rate = r["sfu_forwarded_per_second"] or 0
cpu = r["sfu_cpu_us_per_forwarded_packet"] or 0
f = lambda v: "–" if v is None else f"{v:.0f}"
fwd = f(r["sfu_forward_latency_p50_us"]) + "/" + f(r["sfu_forward_latency_p99_us"])
e2e = f(r["latency_end_to_end_p50_us"]) + "/" + f(r["latency_end_to_end_p99_us"])
print(f"| {r['rooms']} | {rate:,.0f} | {rate * cpu / 1e6:.2f} | {cpu:.1f} | {r['loadgen_cpu_cores']:.2f} "
      f"| {r['delivery'] * 100:.3f} % | {fwd} | {e2e} |")
past = r["delivery"] < 0.999 or (r["sfu_forward_latency_p99_us"] or 0) > 1000
print("past" if past else "within")
PY
)
  echo "$verdict" | head -1
  if [ "$(echo "$verdict" | tail -1)" = past ]; then
    echo "past capacity at $rooms rooms (delivery under 99.9 % or forwarding p99 over 1 ms)"
    break
  fi
done
