#!/bin/sh
# The demo study: generate it (once), fit it under mpirun on every local
# core, print the per-ROI summary and where the results are.
# usage: tests/demo.sh BUILD_DIR   (what `make demo` runs)
set -e
BUILD=${1:-build}
. tests/lib.sh
np=$(nproc)
data=build/demo/data
if [ ! -f "$data/job.yaml" ] || [ "$VOXFIT" -nt "$data/job.yaml" ]; then
  echo "== generating the demo study into $data"
  mpirun -np 1 "$VOXFIT" gen --preset demo --out "$data" --seed 1
fi
echo "== validating jobs/demo.yaml"
mpirun -np 1 "$VOXFIT" validate jobs/demo.yaml | tail -n 3
echo "== fitting: mpirun -np $np $VOXFIT run jobs/demo.yaml --force"
mpirun -np "$np" "$VOXFIT" run jobs/demo.yaml --force
echo "== the planted truth is in $data/truth.yaml"
