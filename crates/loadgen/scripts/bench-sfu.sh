#!/usr/bin/env bash
# SFU benchmark: `silta dev` and `silta-loadgen` (release builds) in one
# loopback-only network namespace, so no media leaves the machine.
#
#   crates/loadgen/scripts/bench-sfu.sh ROOMS [PARTICIPANTS] [SECONDS]
#
# Prints the load generator's summary (add --json via LOADGEN_ARGS).
# Needs root (or CAP_SYS_ADMIN) for `unshare -n`.
set -euo pipefail
rooms=${1:-10}
participants=${2:-3}
seconds=${3:-30}
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/silta-target-release}"
cargo build --release -q -p silta -p silta-loadgen
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
exec unshare -n -- bash -c '
  set -e
  ip link set lo up
  cd "$1"
  SILTA_LOG__FILTER=warn "$2/silta" dev >dev.out 2>dev.err &
  dev=$!
  for _ in $(seq 1 100); do
    if [ -f .silta/keys/signing-key.pem ] && (exec 3<>/dev/tcp/127.0.0.1/7100) 2>/dev/null; then break; fi
    sleep 0.1
  done
  "$2/silta-loadgen" --rooms "$3" --participants "$4" --duration "$5s" --sfu-pid "$dev" $6 || status=$?
  kill "$dev"
  exit ${status:-0}
' bash "$work" "$bin" "$rooms" "$participants" "$seconds" "${LOADGEN_ARGS:-}"
