"""Shared by the Python tests: voxfit run as the shell tests run it
(tests/lib.sh sets the MPI environment), and PASS/FAIL lines with their
count, as the shell tests print them."""
import os
import subprocess
import sys

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib.sh")


def voxfit(build, np_, *args):
    """voxfit ARGS on np_ ranks; (exit code, stdout and stderr together)."""
    cmd = ['sh', '-c', 'BUILD="$1"; . "$2"; shift 2; vf "$@"', "sh", build, LIB,
           str(np_)] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300, universal_newlines=True)
    return p.returncode, p.stdout


class Checks:
    """check(name, good, detail): one PASS/FAIL line "PASS prefix: name";
    detail is shown on failures (and on passes too with always_detail)."""

    def __init__(self, prefix, always_detail=False):
        self.prefix, self.always_detail = prefix, always_detail
        self.n_pass = self.n_fail = 0

    def __call__(self, name, good, detail=""):
        if good:
            self.n_pass += 1
        else:
            self.n_fail += 1
        show = detail and (self.always_detail or not good)
        print(("PASS" if good else "FAIL") + " " + self.prefix + ": " + name +
              (": " + detail if show else ""))
        sys.stdout.flush()

    def finish(self):
        """The count line; the exit status (1 if any check failed)."""
        print("%s: %d passed, %d failed" % (self.prefix, self.n_pass, self.n_fail))
        return 1 if self.n_fail else 0
