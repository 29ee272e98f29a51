#!/bin/sh
# The README's demo, as `make demo` runs it (tests/demo.sh), then
# jobs/demo.yaml by hand on 1 and 2 ranks: every job in jobs/ runs as
# written. usage: tests/cli/test_demo.sh BUILD_DIR
BUILD=${1:?usage: test_demo.sh BUILD_DIR}
. tests/lib.sh
fails=0
check() { # description, then a command that must succeed
  d=$1
  shift
  if "$@"; then echo "PASS $d"; else echo "FAIL $d"; fails=$((fails + 1)); fi
}
out=$(sh tests/demo.sh "$BUILD" 2>&1)
rc=$?
echo "$out" | tail -n 30
check "demo exits 0" test "$rc" = 0
check "demo prints the ROI table" sh -c 'echo "$1" | grep -q "^subject .*V1 .*FFA"' _ "$out"
check "demo prints the pair summary" sh -c 'echo "$1" | grep -q "^mm-vis-l2 - uni-vis-l2"' _ "$out"
check "demo prints the results path" sh -c 'echo "$1" | grep -q "^results: .*build/demo/results.nc$"' _ "$out"
check "the results file is complete" sh -c 'ncdump -h build/demo/results.nc | grep -q ":complete = 1"'
for np in 1 2; do
  (cd /tmp && mpirun -np "$np" "$OLDPWD/$VOXFIT" run "$OLDPWD/jobs/demo.yaml" --quiet >/tmp/voxfit-demo-$$.out 2>&1)
  check "jobs/demo.yaml runs as written on $np rank(s), from another folder" test $? = 0
done
# the planted effect: semantic ROIs favour the multimodal twin, V1 does not
"$PY" - <<'PYEOF'
import sys
import netCDF4, numpy as np
d = netCDF4.Dataset("build/demo/results.nc")
rois = [bytes(r).rstrip(b"\0").decode() for r in d["roi_name"][:].data]
var = [bytes(v).rstrip(b"\0").decode() for v in d["variant_id"][:].data]
m = np.array(d["roi_mean_r"][0])  # subject x variant x roi
a, b = var.index("mm-vis-l2"), var.index("uni-vis-l2")
diff = (m[:, a, :] - m[:, b, :]).mean(axis=0)
ok = diff[rois.index("FFA")] > 0.05 and abs(diff[rois.index("V1")]) < 0.03
print(("PASS" if ok else "FAIL") + " planted effect: FFA diff %.3f, V1 diff %.3f"
      % (diff[rois.index("FFA")], diff[rois.index("V1")]))
sys.exit(0 if ok else 1)
PYEOF
check "planted effect visible in the demo results" test $? = 0
rm -f /tmp/voxfit-demo-$$.out
echo "$fails failed"
[ "$fails" = 0 ]
