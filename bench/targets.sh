#!/bin/bash
# targets.sh - issue 14's speed table: uaio-bench on the five jobs the
# issue names (QD32, QD1, QD128, batches of 16 at QD64, each in --mode all;
# buffered randwrite at QD32), every engine in the same run.
#
#   bench/targets.sh RUNNAME
#
# Writes $OUT/RUNNAME-JOB.json and .txt (OUT: default
# ${TMPDIR:-/tmp}/uaio-targets) for JOB in qd32 qd1 qd128 b16 randwrite;
# bench/targets.py RUN1 RUN2 prints the README's tables from two runs.
# The `uaio` engine runs on the threads executor (UAIO_EXECUTOR=threads);
# uaio-uring and uaio-kaio force theirs.  Environment: FILE (default
# /var/tmp/ub.file, created or extended by uaio-bench and kept, so the
# 1 GiB is written once), BENCH (default build/uaio-bench from the
# project's root), RT=SEC (testing only: -t SEC --ramp 0.1).  About four
# minutes per run.
set -u
if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 RUNNAME" >&2
    exit 2
fi
RUN=$1
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
DIR=${OUT:-${TMPDIR:-/tmp}/uaio-targets}
BENCH=${BENCH:-$here/../build/uaio-bench}
FILE=${FILE:-/var/tmp/ub.file}
[ -x "$BENCH" ] || { echo "$0: no $BENCH (make build/uaio-bench)" >&2; exit 2; }
ENGINES=kaio,uaio,uaio-uring,uaio-kaio,io_uring,posix-aio,sync
mkdir -p "$DIR"

EXTRA_RT=()
if [ -n "${RT:-}" ]; then
    EXTRA_RT=(-t "$RT" --ramp 0.1)
fi

# job name | extra options (the mode is part of them)
JOBS=(
    "qd32|--mode all"
    "qd1|--mode all --iodepth 1"
    "qd128|--mode all --iodepth 128"
    "b16|--mode all --batch-submit 16 --batch-complete 16 --iodepth 64"
    "randwrite|--mode buffered --rw randwrite"
)

status=0
for j in "${JOBS[@]}"; do
    job=${j%%|*}
    read -r -a opts <<< "${j#*|}"
    out="$DIR/$RUN-$job"
    cmd=(env UAIO_EXECUTOR=threads "$BENCH" -q -f "$FILE" -e "$ENGINES"
         "${opts[@]}" "${EXTRA_RT[@]}" --json "$out.json")
    echo "== $job: ${cmd[*]}" >&2
    "${cmd[@]}" | tee "$out.txt"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        echo "== $job: uaio-bench exited with status $rc" >&2
        status=1
    fi
done
exit $status
