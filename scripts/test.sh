#!/usr/bin/env bash
# Runs every suite (unit → e2e → browser) against the local real control plane and prints one
# closing line "N passed, N failed" summing them all (bun test prints per-suite counts only).
#
# Starts the control plane if none is running and stops it again at the end (a cluster that was
# already up is left running). SUITES=unit|e2e|browser (comma list) narrows the run.
# The e2e suites include the image (tests/e2e/container.test.ts, podman) and the real node
# (tests/e2e/node.test.ts, which starts and stops scripts/node.sh itself); a node that could not
# start turns the closing line into "no-real-node: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
suites=${SUITES:-unit,e2e,browser}
bun="$root/node_modules/.bin/bun"
logdir="$root/.tmp/test-logs"
mkdir -p "$logdir"
passed=0 failed=0 status=0 started_cluster=0 node_problem=

[ -x "$bun" ] || { echo "test: $bun missing; run: npm ci" >&2; exit 1; }

cleanup() {
  # tests/e2e/node.test.ts starts and stops the real node itself; a crashed run may leave it up.
  if [ -d "$root/.cluster/node" ] && [ -z "${KEEP_CLUSTER:-}" ]; then
    scripts/node.sh down || true
  fi
  if [ "$started_cluster" = 1 ] && [ -z "${KEEP_CLUSTER:-}" ]; then
    scripts/cluster.sh down || true
  fi
}
trap cleanup EXIT

# bun test writes its " N pass" / " N fail" summary lines to stderr.
run_suite() {
  local name=$1; shift
  local log="$logdir/$name.log" p f rc
  echo "=== $name: bun test $*" >&2
  "$bun" test "$@" 2> >(tee "$log" >&2)
  rc=$?
  wait
  p=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  # A crashed runner (or a filter that matched nothing) exits non-zero without a fail count:
  # count it as a failure so it can never pass silently.
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; echo "test: $name exited $rc without reporting failures" >&2; fi
  if [ "$p" = 0 ] && [ "$f" = 0 ]; then f=1; echo "test: $name ran no test" >&2; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$rc" = 0 ] || status=1
  echo "=== $name: $p passed, $f failed" >&2
}

if [[ ",$suites," == *",unit,"* ]]; then
  # The type check counts as one test: a type error fails the run like a failing test.
  echo "=== typecheck: tsc --noEmit" >&2
  if "$root/node_modules/.bin/tsc" --noEmit -p "$root" >&2; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
  run_suite unit tests/unit
fi

if [[ ",$suites," == *",e2e,"* || ",$suites," == *",browser,"* ]]; then
  if [ -n "${CLUSTER_ENV_FILE:-}" ]; then
    echo "test: using the cluster described by $CLUSTER_ENV_FILE" >&2
  elif ! scripts/cluster.sh status >/dev/null 2>&1; then
    scripts/cluster.sh up || { echo "test: the control plane did not start" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
    started_cluster=1
  fi
  if [ -z "${CLUSTER_ENV_FILE:-}" ]; then
    scripts/cluster.sh workloads || { echo "test: sample workloads did not roll out" >&2; echo "$passed passed, $((failed + 1)) failed"; exit 1; }
  fi
fi

if [[ ",$suites," == *",e2e,"* ]]; then
  run_suite e2e --timeout 180000 tests/e2e
  # A machine where the real node cannot run fails the node suite; say why next to the count.
  if grep -q 'THE REAL NODE DID NOT START' "$logdir/e2e.log"; then
    node_problem="the real node did not start (tests/e2e/node.test.ts failed; see $logdir/e2e.log and .cluster/node-logs)"
  fi
fi
if [[ ",$suites," == *",browser,"* ]]; then
  run_suite browser --timeout 120000 tests/browser
fi

# Stop a cluster we started before the summary, so the count is the very last line.
cleanup
trap - EXIT
# The closing line names a missing real node itself (one word and a colon before the counts).
if [ -n "$node_problem" ]; then
  echo "test: FAILED: $node_problem" >&2
  echo "no-real-node: $passed passed, $failed failed"
else
  echo "$passed passed, $failed failed"
fi
exit $status
