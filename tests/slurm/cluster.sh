#!/bin/sh
# A private single-host SLURM for the tests (DESIGN.md): slurmctld and
# slurmd from Debian's slurm-wlm in the foreground (-D) on private ports,
# proctrack/linuxproc, task/none, auth/none and cred/none, all state under
# one folder. Source it, then:
#   slurm_start DIR   writes DIR/slurm.conf, starts both daemons, exports
#                     SLURM_CONF, waits until the node is idle (or fails
#                     with the daemons' logs)
#   slurm_stop        stops both daemons by PID (call it from a trap)
slurm_start() {
  SLURM_DIR=$1
  mkdir -p "$SLURM_DIR/spool/ctld" "$SLURM_DIR/spool/d" "$SLURM_DIR/log"
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)
  port=$((20000 + $$ % 20000))
  cat >"$SLURM_DIR/slurm.conf" <<CONF
ClusterName=voxfit-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=pmix
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$SLURM_DIR/spool/ctld
SlurmdSpoolDir=$SLURM_DIR/spool/d
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=10
MinJobAge=600
InactiveLimit=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
  export SLURM_CONF="$SLURM_DIR/slurm.conf"
  slurmctld -D -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmctld.out" 2>&1 &
  SLURMCTLD_PID=$!
  slurmd -D -f "$SLURM_CONF" >"$SLURM_DIR/log/slurmd.out" 2>&1 &
  SLURMD_PID=$!
  i=0
  while [ $i -lt 60 ]; do
    state=$(sinfo -h -o %t 2>/dev/null | head -n 1)
    case $state in idle*|mix*|alloc*) return 0 ;; esac
    sleep 0.5
    i=$((i + 1))
  done
  echo "SLURM did not come up (node state '$state'); logs:" >&2
  tail -n 20 "$SLURM_DIR/log/"* >&2
  return 1
}

slurm_stop() {
  [ -n "$SLURMD_PID" ] && kill "$SLURMD_PID" 2>/dev/null
  [ -n "$SLURMCTLD_PID" ] && kill "$SLURMCTLD_PID" 2>/dev/null
  wait "$SLURMD_PID" "$SLURMCTLD_PID" 2>/dev/null
  SLURMD_PID= SLURMCTLD_PID=
}
