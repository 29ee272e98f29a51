#!/bin/sh
# voxfit group's output file: refused (exit 2, one line naming it) when
# --out is one of the results files (the same file by device and inode: a
# copy's own name, a hard link), an existing file that is not a group file
# (a symlink to a responses file, a text file, the default GROUP.nc), or a
# directory; --force replaces a file that is not a group file (the symlink
# itself, not its target) but never an input; an existing group file is
# replaced without --force. Refused outputs and inputs are left as they were.
# A full disk: exit 5 and no file (group, and gen's inputs).
# (The group statistics themselves: tests/stats/test_group.py.)
# Prints one PASS/FAIL line per check; exits 1 if any failed.
# usage: sh tests/cli/test_group.sh BUILD_DIR
BUILD=${1:?usage: test_group.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=group

demo_study 7
cd "$D" || exit 1
x 1 run job.yaml --quiet
ok "$rc" "run: exit 0"
cp results.nc r.nc
cp sub-01.nc sub-01.orig

# refused OUT PATTERN [ARGS...]: group r.nc --out OUT ARGS exits 2 with one
# voxfit line, an error naming OUT and matching PATTERN
refused() {
  out=$1 pat=$2
  shift 2
  x 1 group r.nc --out "$out" --bootstrap 0 "$@"
  ok "$([ "$rc" = 2 ]; echo $?)" "--out $out $*: exit 2 (got $rc)"
  n=$(grep -c '^voxfit' "$T/out")
  line=$(grep '^voxfit' "$T/out" | head -n 1)
  printf '%s\n' "$line" | grep -q -e "error: $out: " && printf '%s\n' "$line" | grep -q -e "$pat"
  ok "$([ $? = 0 ] && [ "$n" = 1 ]; echo $?)" "--out $out $*: one line naming it: $line"
}

refused r.nc 'is the input r.nc (the same file)'
cmp -s r.nc results.nc
ok $? "the input is left as it was"
refused "$D/r.nc" 'the same file'
refused r.nc 'the same file' --force
cmp -s r.nc results.nc
ok $? "... also with --force"
ln r.nc hard.nc
x 1 group hard.nc --out r.nc --bootstrap 0
ok "$([ "$rc" = 2 ] && has 'is the input hard.nc'; echo $?)" "a hard link of the input: exit 2"

ln -s sub-01.nc link.nc
refused link.nc 'not a voxfit group file'
cmp -s sub-01.nc sub-01.orig && [ -L link.nc ]
ok $? "the symlink and the responses file it names are left as they were"
echo "my notes" >notes.txt
refused notes.txt 'or add --force'
[ "$(cat notes.txt)" = "my notes" ]
ok $? "the text file is left as it was"
mkdir adir
refused adir 'is a directory'
refused no/such/dir/g.nc 'its folder no/such/dir does not exist'
[ ! -e no ]
ok $? "a missing folder: nothing created"

# numeric options: the whole value, in range (exit 2, one line naming it)
for bad in "--seed abc" "--seed 1e3" "--seed -1" "--seed 18446744073709551616" \
  "--bootstrap 1e2" "--bootstrap 10x" "--bootstrap -5" "--level 0.95x" "--level 95"; do
  # shellcheck disable=SC2086
  x 1 group r.nc --out opt.nc $bad
  set -- $bad
  ok "$([ "$rc" = 2 ] && has "error: $1 '$2': expected" && [ ! -e opt.nc ]; echo $?)" \
    "group $bad: exit 2 naming the value (got $rc)"
done
x 1 group r.nc --out seed.nc --bootstrap 0 --seed 9007199254740993
ok "$([ "$rc" = 0 ] && attr seed.nc boot_seed | grep -q '9007199254740993'; echo $?)" \
  "a seed above 2^53 is stored exactly: $(attr seed.nc boot_seed)"

echo "not netcdf" >r.group.nc
x 1 group r.nc --bootstrap 0
ok "$([ "$rc" = 2 ] && has 'error: r.group.nc: exists and is not a voxfit group file'; echo $?)" \
  "the default output, not a group file: exit 2"

x 1 group r.nc --out notes.txt --bootstrap 0 --force
ok "$([ "$rc" = 0 ] && [ -n "$(attr notes.txt ci_level)" ]; echo $?)" \
  "--force: the text file is replaced by a group file"
x 1 group r.nc --out link.nc --bootstrap 0 --force
[ "$rc" = 0 ] && [ ! -L link.nc ] && [ -n "$(attr link.nc ci_level)" ] && cmp -s sub-01.nc sub-01.orig
ok $? "--force on a symlink: the link is replaced, not the responses file"
x 1 group r.nc --out g.nc --bootstrap 0
ok "$rc" "a new output: exit 0"
x 1 group r.nc --out g.nc --bootstrap 0
ok "$([ "$rc" = 0 ] && has 'group results: g.nc'; echo $?)" "an existing group file is replaced"
# ---- a full disk ----------------------------------------------------------------
# Open MPI's MPI-IO reports a write that fails for a full disk on stderr
# only: the group file came out empty with exit 0, and then blocked the
# rerun. Its blocks are reserved before any data is written: a full disk
# is exit 5 naming the file, and neither it nor its temporary is left.
# voxfit gen likewise removes an input it could not write whole. Needs a
# tmpfs mount (root); skipped where mounting is not allowed.
FS=$T/fs
mkdir -p "$FS"
if mount -t tmpfs -o size=8k tmpfs "$FS" 2>/dev/null; then
  dd if=/dev/zero of="$FS/fill" bs=4096 count=2 2>/dev/null
  x 1 group r.nc --out "$FS/g.nc" --bootstrap 0
  left=$(ls "$FS" | grep -v '^fill$')
  ok "$([ "$rc" = 5 ] && has "$FS/g.nc.*cannot reserve its full size" && [ -z "$left" ]; echo $?)" \
    "group on a full disk: exit 5 naming the file (got $rc), nothing left (${left:-nothing})"
  rm -f "$FS/fill"
  x 1 group r.nc --out "$FS/g.nc" --bootstrap 0
  ok "$([ "$rc" = 0 ] && [ -n "$(attr "$FS/g.nc" ci_level)" ]; echo $?)" \
    "... with room, the same command writes it (exit $rc)"
  rm -f "$FS/g.nc"
  mount -o remount,size=600k "$FS"
  x 1 gen --preset demo --out "$FS/study"
  ok "$([ "$rc" != 0 ] && has "sub-01.nc: cannot reserve its full size" &&
        [ ! -e "$FS/study/sub-01.nc" ] && [ -s "$FS/study/features.nc" ]; echo $?)" \
    "gen on a disk without room for sub-01.nc: fails naming it (exit $rc), leaves no part of it"
  umount "$FS"
else
  echo "SKIP $TEST: cannot mount a tmpfs here (not root?): no disk-full check"
fi

x 1 group --help
ok "$([ "$rc" = 0 ] && has '--force'; echo $?)" "--help describes --force"

# stats.group: true checks its group file before fitting, not after
sed 's#^output: .*#output: staged.nc#' job.yaml >staged.yaml
printf 'stats: {group: true}\n' >>staged.yaml
echo "my notes" >staged.group.nc
x 1 run staged.yaml --quiet
[ "$rc" = 2 ] && has 'staged.group.nc: exists and is not a voxfit group file' && [ ! -e staged.nc ] &&
  has 'stats.group: false' && ! has 'give --out' &&
  [ "$(cat staged.group.nc)" = "my notes" ]
ok $? "run with stats.group: a non-group staged.group.nc refused before the fit, nothing written (got $rc)"
x 1 run staged.yaml --quiet --force
[ "$rc" = 0 ] && [ -n "$(attr staged.group.nc ci_level)" ]
ok $? "... with --force the run ends with its group file in its place (got $rc)"

finish
