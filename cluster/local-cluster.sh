#!/usr/bin/env bash
# Start a Dask scheduler and N single-threaded workers on this host.
#   cluster/local-cluster.sh [N_WORKERS] [PORT]     (defaults: 2 workers, port 8786)
# Every process listens on 127.0.0.1 only (scheduler, workers, nannies and their
# dashboards): set LIFBATCH_HOST to another address of this host to change that
# (see cluster/tls.md first: a scheduler runs whatever code its clients send).
# Then: lifbatch run WORKFLOW --scheduler tcp://127.0.0.1:PORT
# Stop with Ctrl-C (all processes are stopped together).
set -euo pipefail
N=${1:-2}
PORT=${2:-8786}
HOST=${LIFBATCH_HOST:-127.0.0.1}
trap 'kill 0' EXIT INT TERM
# The Dask settings of lifbatch's embedded cluster (lifbatch.cluster.dask-config in
# lifbatch/lifbatch.yaml): Dask's monitoring less often, no sampling profiler, so that
# the cores go to the tasks. Set any of them beforehand to keep your own value.
export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=${DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED:-False}
export DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=${DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL:-1s}
export DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL=${DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL:-2s}
dask scheduler --host "$HOST" --port "$PORT" --dashboard-address "$HOST:0" &
sleep 2
for i in $(seq 1 "$N"); do
    dask worker "tcp://$HOST:$PORT" --host "$HOST" --dashboard-address "$HOST:0" --nthreads 1 --nworkers 1 \
        --name "lifbatch-$i" &
done
wait
