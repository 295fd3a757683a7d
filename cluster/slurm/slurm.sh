#!/usr/bin/env bash
# A real single-node SLURM (munged + slurmctld + slurmd) on this machine, for development and CI
# of `lifbatch run --cluster slurm` (dask-jobqueue's SLURMCluster).  Every daemon on 127.0.0.1.
#
#   cluster/slurm/slurm.sh install   # apt-get install slurm-wlm munge (once; quick when installed)
#   cluster/slurm/slurm.sh start     # write the configuration, start the daemons, wait for the node
#   cluster/slurm/slurm.sh status    # sinfo and squeue
#   cluster/slurm/slurm.sh stop      # cancel the jobs, stop slurmd, slurmctld, munged
#   cluster/slurm/slurm.sh env       # the `export SLURM_CONF=...` line
#
# Everything (configuration, munge key and socket, state, spool, logs, pid files) lives in
# $LIFBATCH_SLURM_DIR (default /tmp/lifbatch-slurm).  Ports: $LIFBATCH_SLURM_CTLD_PORT (6817)
# and $LIFBATCH_SLURM_SLURMD_PORT (6818).  Must run as root (SlurmUser=root, munged as root).
set -euo pipefail

DIR=${LIFBATCH_SLURM_DIR:-/tmp/lifbatch-slurm}
CTLD_PORT=${LIFBATCH_SLURM_CTLD_PORT:-6817}
SLURMD_PORT=${LIFBATCH_SLURM_SLURMD_PORT:-6818}
START_TIMEOUT=${LIFBATCH_SLURM_TIMEOUT:-60}
PARTITION=debug
CONF=$DIR/etc/slurm.conf
MUNGE_SOCKET=$DIR/munge/munge.socket.2
export SLURM_CONF=$CONF

die() { echo "slurm.sh: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root (SlurmUser=root, munged as root)"; }
have_all() { command -v munged >/dev/null && command -v slurmctld >/dev/null \
             && command -v slurmd >/dev/null && command -v sinfo >/dev/null; }

cmd_install() {
    if have_all; then
        echo "slurm-wlm and munge already installed: $(slurmd -V)"
        return 0
    fi
    need_root
    command -v apt-get >/dev/null || die "apt-get not found: install slurm-wlm and munge by hand"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -q slurm-wlm munge || die "apt-get install slurm-wlm munge failed"
    have_all || die "slurm-wlm installed but munged/slurmctld/slurmd/sinfo still missing"
    echo "installed: $(slurmd -V)"
}

# pid from a pid file if that process is alive and is the named program, else nothing
alive_pid() {
    local file=$1 name=$2 pid
    [ -s "$file" ] || return 1
    pid=$(tr -dc 0-9 <"$file")
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm")" = "$name" ] || return 1
    echo "$pid"
}

stop_pid() {  # stop_pid FILE NAME: TERM, wait up to 15 s, then KILL
    local file=$1 name=$2 pid i
    pid=$(alive_pid "$file" "$name") || { rm -f "$file"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 150); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
        echo "slurm.sh: $name ($pid) did not stop on TERM, killing" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
    echo "stopped $name ($pid)"
}

port_busy() {  # port_busy PORT: a TCP listener on it (any address)?
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p {f = 1} END {exit !f}' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

write_config() {
    local host=$1 cpus=$2 mem=$3 node
    # The node's topology as slurmd itself detects it (so slurmd does not drain the node for a
    # mismatch), with RealMemory lowered to leave the OS some room.
    node=$(slurmd -C 2>/dev/null | head -1 | sed -E 's/^NodeName=[^ ]+ //; s/RealMemory=[0-9]+//')
    [ -n "$node" ] || node="CPUs=$cpus"
    cat >"$CONF" <<EOF
# Written by cluster/slurm/slurm.sh start: a single-node SLURM on 127.0.0.1 for development and
# CI.  Regenerated on every start; edit the script, not this file.
ClusterName=lifbatch
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
# Bind slurmctld and slurmd to the address the host name resolves to (127.0.0.1), not 0.0.0.0
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: plain process tracking, no task binding (works in containers and gVisor)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# A job without --mem gets 1 GiB per CPU, not the whole node
DefMemPerCPU=1024
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host $node RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    # No cgroup.conf: Debian's slurm 22.05 does not need one with linuxproc + task/none
    rm -f "$DIR/etc/cgroup.conf"
}

cmd_start() {
    need_root
    have_all || die "slurm-wlm/munge not installed: run '$0 install' first"
    local host cpus mem_total mem
    host=$(hostname -s)
    [ -n "$host" ] || die "empty host name"
    # NoInAddrAny binds to what the host name resolves to: it must be a loopback address
    local addr
    addr=$(getent hosts "$host" | awk '{print $1; exit}')
    case "$addr" in
        127.*) ;;
        *) die "host name '$host' resolves to '${addr:-nothing}', not 127.x: add '127.0.0.1 $host' to /etc/hosts" ;;
    esac
    if pid=$(alive_pid "$DIR/run/slurmctld.pid" slurmctld) && alive_pid "$DIR/run/slurmd.pid" slurmd >/dev/null \
       && alive_pid "$DIR/munge/munged.pid" munged >/dev/null; then
        echo "already running (slurmctld $pid); '$0 stop' first to restart"
        print_usage
        return 0
    fi
    cmd_stop >/dev/null 2>&1 || true  # leftovers of a half-started run
    for p in "$CTLD_PORT" "$SLURMD_PORT"; do
        port_busy "$p" && die "TCP port $p already in use (another slurm?): set LIFBATCH_SLURM_CTLD_PORT / LIFBATCH_SLURM_SLURMD_PORT"
    done
    cpus=$(nproc)
    mem_total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    mem=$(( mem_total > 2048 ? mem_total - 1024 : mem_total * 9 / 10 ))

    mkdir -p "$DIR"/{etc,munge,state,spool,log,run}
    chmod 0755 "$DIR"
    chmod 0700 "$DIR/munge"
    rm -rf "${DIR:?}"/state/* "${DIR:?}"/spool/*   # a fresh cluster each start: no stale jobs
    write_config "$host" "$cpus" "$mem"

    # munge: the system key if there is one, else a new one of our own
    if [ ! -s "$DIR/munge/munge.key" ]; then
        if [ -s /etc/munge/munge.key ]; then
            cp /etc/munge/munge.key "$DIR/munge/munge.key"
        else
            dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
        fi
    fi
    chmod 0400 "$DIR/munge/munge.key"
    munged --force --key-file="$DIR/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" 2>>"$DIR/log/munged.log" \
        || die "munged failed to start: $(tail -1 "$DIR/log/munged.log")"
    local i
    for i in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
    munge -S "$MUNGE_SOCKET" -n </dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1 \
        || die "munged does not answer on $MUNGE_SOCKET: $(tail -1 "$DIR/log/munged.log")"

    slurmctld -f "$CONF" -i 2>>"$DIR/log/slurmctld.log" \
        || die "slurmctld failed to start: $(tail -1 "$DIR/log/slurmctld.log")"
    slurmd -f "$CONF" 2>>"$DIR/log/slurmd.log" \
        || die "slurmd failed to start: $(tail -1 "$DIR/log/slurmd.log")"

    local state=""
    for i in $(seq $((START_TIMEOUT * 2))); do
        state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null | head -1 || true)
        case "$state" in idle|idle\*|mixed|allocated) [ "$state" = "idle*" ] || break ;; esac
        if ! alive_pid "$DIR/run/slurmctld.pid" slurmctld >/dev/null && [ "$i" -gt 4 ]; then
            die "slurmctld exited: $(grep -E 'error|fatal' "$DIR/log/slurmctld.log" | tail -1)"
        fi
        if ! alive_pid "$DIR/run/slurmd.pid" slurmd >/dev/null && [ "$i" -gt 4 ]; then
            die "slurmd exited: $(grep -E 'error|fatal' "$DIR/log/slurmd.log" | tail -1)"
        fi
        sleep 0.5
    done
    case "$state" in
        idle|mixed|allocated) ;;
        *) die "node $host not idle after ${START_TIMEOUT}s (state '${state:-none}'): see $DIR/log/" ;;
    esac
    [ "$(id -u)" = 0 ] && link_etc
    echo "SLURM up: partition '$PARTITION', node $host ($cpus CPUs, ${mem} MiB) on 127.0.0.1"
    print_usage
}

# /etc/slurm/slurm.conf -> ours, when there is no other one, so plain `sinfo`/`sbatch` work
# without SLURM_CONF (dask-jobqueue runs sbatch with the caller's environment either way).
link_etc() {
    [ "${LIFBATCH_SLURM_LINK_ETC:-1}" = 1 ] || return 0
    mkdir -p /etc/slurm
    if [ ! -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
        ln -s "$CONF" /etc/slurm/slurm.conf
    elif [ -L /etc/slurm/slurm.conf ] && readlink /etc/slurm/slurm.conf | grep -q '/etc/slurm.conf$' \
         && [ ! -e /etc/slurm/slurm.conf ]; then
        ln -sfn "$CONF" /etc/slurm/slurm.conf   # a dangling link of an earlier run
    fi
}

print_usage() {
    cat <<EOF
  export SLURM_CONF=$CONF
  sbatch -p $PARTITION --wrap 'hostname'        # squeue, scancel, sinfo as usual
  python: SLURMCluster(queue='$PARTITION', cores=1, memory='1GiB', processes=1, walltime='00:10:00',
              interface=None,
              scheduler_options={'host': '127.0.0.1', 'dashboard_address': '127.0.0.1:0'},
              worker_extra_args=['--host', '127.0.0.1', '--dashboard-address', '127.0.0.1:0'])
  logs: $DIR/log/   stop: $0 stop
EOF
}

cmd_stop() {
    # cancel the jobs first, so no slurmstepd / job processes outlive slurmd
    if alive_pid "$DIR/run/slurmctld.pid" slurmctld >/dev/null && command -v squeue >/dev/null; then
        local jobs i
        jobs=$(squeue -h -o '%i' 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for i in $(seq 100); do
                [ -z "$(squeue -h -o '%i' 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    stop_pid "$DIR/run/slurmd.pid" slurmd
    stop_pid "$DIR/run/slurmctld.pid" slurmctld
    stop_pid "$DIR/munge/munged.pid" munged
    if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
        rm -f /etc/slurm/slurm.conf
    fi
}

cmd_status() {
    [ -f "$CONF" ] || die "not configured ($CONF missing): '$0 start'"
    alive_pid "$DIR/run/slurmctld.pid" slurmctld >/dev/null || die "slurmctld not running: '$0 start'"
    sinfo
    squeue
}

case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) echo "export SLURM_CONF=$CONF" ;;
    *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
