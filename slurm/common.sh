# Shared by the slurm/*.sbatch scripts (sourced, not run).
# VOXFIT: the voxfit executable (default: voxfit on PATH, else
# build/bin/voxfit of the source tree these scripts are in).
# VOXFIT_LAUNCHER: srun (default: srun --mpi=pmix) or mpirun (mpirun -np
# $SLURM_NTASKS, for sites where srun cannot start Open MPI).
voxfit_exe() {
  if [ -n "${VOXFIT:-}" ]; then echo "$VOXFIT"
  elif command -v voxfit >/dev/null 2>&1; then command -v voxfit
  else echo "$here/../build/bin/voxfit"
  fi
}

# launch ARGS...: voxfit ARGS on the job's tasks, in the background, its
# PID in STEP_PID (so the batch shell can trap signals while it runs).
launch() {
  exe=$(voxfit_exe)
  if [ ! -x "$exe" ]; then
    echo "voxfit: $exe is not an executable; build voxfit (make) or set VOXFIT" >&2
    return 2
  fi
  if [ "${VOXFIT_LAUNCHER:-srun}" = mpirun ]; then
    mpirun -np "${SLURM_NTASKS:-1}" "$exe" "$@" &
  else
    srun --mpi=pmix "$exe" "$@" &
  fi
  STEP_PID=$!
}

# misplaced ARGS...: true (and says so) if an sbatch option is among the
# script's arguments: given after the script, it reaches voxfit, which
# would refuse it as "unexpected argument" without saying where it goes.
misplaced() {
  for a in "$@"; do
    case $a in
      --ntasks*|--nodes*|--time*|--mem*|--partition*|--account*|--qos*|--array*|\
      --cpus-per-task*|--signal*|--job-name*|--output*|--dependency*|--requeue|-[nNtpAco]*)
        echo "voxfit: '$a' is an sbatch option, given after the script: put it before" \
          "(sbatch $a ... slurm/SCRIPT JOB.yaml)" >&2
        return 0 ;;
    esac
  done
  return 1
}

# SLURM's warning (--signal=B:USR1@T) and `scancel --batch` reach this
# shell only; forward them to the step, whose master then stops handing out
# work, flushes and exits 3 with a resumable file. Always as USR1: srun
# answers a TERM by killing the tasks ("forcing job termination"), which
# loses the units in flight and those not yet flushed; srun and mpirun pass
# USR1 on to the ranks. The signals received are in STOP_SIGNALS.
forward() {
  echo "voxfit: $1 received; asking voxfit to stop cleanly" >&2
  STOP_SIGNALS="${STOP_SIGNALS:-}$1 "
  [ -n "${STEP_PID:-}" ] && kill -s USR1 "$STEP_PID" 2>/dev/null
}

# run_step ARGS...: launch, forward signals, wait for the step (wait
# returns early when a trapped signal arrives, so wait again).
run_step() {
  trap 'forward USR1' USR1
  trap 'forward TERM' TERM
  launch "$@" || return $?
  while :; do
    wait "$STEP_PID"
    rc=$?
    kill -0 "$STEP_PID" 2>/dev/null || break
  done
  trap - USR1 TERM
  return $rc
}
