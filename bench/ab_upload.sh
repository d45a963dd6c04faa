#!/usr/bin/env bash
# Upload rate of two revisions, measured alternately in the same rounds (the machine's speed
# drifts within an hour: only a same-round comparison says what a change did).
#
#   bench/ab_upload.sh BASE_REV [ROUNDS] [UPLOADS] [LEVELS]
#   bench/ab_upload.sh c465a32 5 2000 2,3
#
# BASE_REV is checked out in a temporary worktree; the working tree is the "new" side. Tasks are
# queued to Redis (BENCH_BROKER, database 9 by default) as in production; PostgreSQL as in
# bench/upload.py. Prints, per round and side, uploads/s, p50 and CPU per upload.
set -euo pipefail
base_rev=${1:?base revision}
rounds=${2:-3}
uploads=${3:-2000}
levels=${4:-2,3}
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
export BENCH_BROKER=${BENCH_BROKER:-redis://127.0.0.1:6379/9}
worktree=$(mktemp -d /tmp/gateway-ab-XXXXXX)
trap 'git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || true' EXIT
git -C "$root" worktree add --detach "$worktree" "$base_rev" >/dev/null
for round in $(seq "$rounds"); do
  for side in base new; do
    dir=$root
    [ "$side" = base ] && dir=$worktree
    out=$(cd "$dir" && "$python" bench/upload.py --db postgres -n "$uploads" --processes "$levels" 2>&1)
    echo "$out" | grep -E "^CPU speed reference" | sed "s/^/round $round $side: /" || true
    echo "$out" | grep -E "^\| postgres" | awk -F'|' -v r="$round" -v s="$side" \
      '{gsub(/ /, "", $3); gsub(/ /, "", $6); gsub(/ /, "", $8); print "round " r " " s ": " $3 " processes, " $6 " uploads/s, p50 " $8 " ms"}'  || true
    echo "$out" | grep -E "^\| [0-9]+ +\|" | awk -F'|' -v r="$round" -v s="$side" \
      '{gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $4); print "round " r " " s ": " $2 " processes, CPU per upload " $3 " ms gateway + " $4 " ms PostgreSQL"}' || true
  done
done
