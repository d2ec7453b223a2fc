#!/usr/bin/env bash
# Soak run: a release `silta dev` under rooms that come and go for a long
# time, in a loopback-only network namespace. Two load generators take
# turns, offset by half a round: each opens ROOMS rooms, runs them for
# ROUND seconds, closes them and starts again, so rooms open and close all
# the time. Every 10 s the server's resident memory, open file descriptors
# and threads are sampled.
#
#   crates/loadgen/scripts/soak.sh [MINUTES] [ROOMS] [ROUND_SECONDS] [OUT_DIR]
#
# Writes OUT_DIR/samples.csv (seconds, rss_kib, fds, threads),
# OUT_DIR/rounds.log (each round's summary) and OUT_DIR/dev.err (the
# server's log at warn); prints the first and last samples and the
# server's warnings and errors. Needs root (or CAP_SYS_ADMIN) for `unshare -n`.
set -euo pipefail
minutes=${1:-30}
rooms=${2:-5}
round=${3:-60}
out=${4:-$(mktemp -d)}
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/silta-target-release}"
echo "== cargo build --release (silta, silta-loadgen)"
cargo build --release -q -p silta -p silta-loadgen
bin="$CARGO_TARGET_DIR/release"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== soak: ${minutes} min, 2 × ${rooms} rooms of 3 in rounds of ${round} s; samples in $out"
unshare -n -- bash -c '
  set -e
  ip link set lo up
  cd "$1"
  bin=$2; out=$3; minutes=$4; rooms=$5; round=$6
  SILTA_LOG__FILTER=warn "$bin/silta" dev >dev.out 2>"$out/dev.err" &
  dev=$!
  for _ in $(seq 1 100); do
    if [ -f .silta/keys/signing-key.pem ] && (exec 3<>/dev/tcp/127.0.0.1/7100) 2>/dev/null; then break; fi
    sleep 0.1
  done
  end=$(( $(date +%s) + minutes * 60 ))
  turns() {
    while [ "$(date +%s)" -lt $(( end - round )) ]; do
      "$bin/silta-loadgen" --rooms "$rooms" --first-room "$1" --participants 3 --duration "${round}s" --packets-per-frame 1 --json \
        >>"$out/rounds.log" 2>>"$out/loadgen.err" || echo "{\"failed_round\": true}" >>"$out/rounds.log"
    done
  }
  turns 0 & first=$!
  sleep $(( round / 2 ))
  turns "$rooms" & second=$!
  started=$(date +%s)
  echo "seconds,rss_kib,fds,threads" >"$out/samples.csv"
  while [ "$(date +%s)" -lt "$end" ]; do
    rss=$(awk "/^VmRSS:/ {print \$2}" /proc/$dev/status)
    threads=$(awk "/^Threads:/ {print \$2}" /proc/$dev/status)
    fds=$(ls /proc/$dev/fd | wc -l)
    echo "$(( $(date +%s) - started )),$rss,$fds,$threads" >>"$out/samples.csv"
    sleep 10
  done
  wait "$first" "$second" || true
  # After the last rooms closed and the resume window passed.
  sleep 40
  rss=$(awk "/^VmRSS:/ {print \$2}" /proc/$dev/status)
  threads=$(awk "/^Threads:/ {print \$2}" /proc/$dev/status)
  fds=$(ls /proc/$dev/fd | wc -l)
  echo "$(( $(date +%s) - started )),$rss,$fds,$threads" >>"$out/samples.csv"
  curl -s http://127.0.0.1:7100/healthz >"$out/healthz.json" 2>/dev/null || true
  kill "$dev"
  wait "$dev" || true
' bash "$work" "$bin" "$out" "$minutes" "$rooms" "$round"
echo "== samples (first, last)"
head -n 3 "$out/samples.csv"
tail -n 2 "$out/samples.csv"
# Each round's report is a pretty-printed JSON object with one `delivery`
# line; a failed round is one `failed_round` line (its cause in loadgen.err).
completed=$(grep -c '"delivery"' "$out/rounds.log" || true)
failed=$(grep -c failed_round "$out/rounds.log" || true)
echo "== rounds: $((completed + failed)) ($failed failed; delivery in the others: $(grep -o '"delivery": [0-9.]*' "$out/rounds.log" | sort | uniq -c | tr -s ' ' | paste -sd,))"
grep -o 'silta-loadgen: .*' "$out/loadgen.err" | sed 's/ *[0-9]*s  peers .*//' | head -n 5 || true
echo "== server warnings and errors: $(grep -c . "$out/dev.err" || true)"
head -n 20 "$out/dev.err"
