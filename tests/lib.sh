# Shared by the shell tests and scripts: MPI settings for a small machine
# run as root, and a few helpers. Source it; $BUILD must be set.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
# Sanitizer builds: Open MPI's own allocations are not ours to report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
VOXFIT="$BUILD/bin/voxfit"
PY=/usr/bin/python3

# vf NP ARGS...: voxfit under mpirun on NP ranks
vf() {
  np=$1
  shift
  mpirun -np "$np" "$VOXFIT" "$@"
}

# mktmp: sets TMP to a fresh temporary directory, removed at exit (call it
# directly, not in $(...), or the trap fires in the subshell)
mktmp() {
  TMP=$(mktemp -d /tmp/voxfit-test.XXXXXX)
  trap 'rm -rf "$TMP"' EXIT
}
