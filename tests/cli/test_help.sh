#!/bin/sh
# The README's command table against each subcommand's --help: every option
# the usage block or the option list of `voxfit CMD --help` names is in the
# command's row of README.md, and every option of the row is in --help.
# Prints one PASS/FAIL line per command; exits 1 if any failed.
# usage: sh tests/cli/test_help.sh BUILD_DIR
BUILD=${1:?usage: test_help.sh BUILD_DIR}
BUILD=$(cd "$BUILD" && pwd) || exit 2
. "$(dirname "$0")/../lib.sh"

TEST=help
README=$(dirname "$0")/../../README.md
mktmp
T=$TMP

for cmd in run plan validate collect group gen; do
  x 1 "$cmd" --help
  [ "$rc" = 0 ] || fail "$cmd --help: exit $rc"
  # the usage block (up to the first empty line) and the option list
  # entries (two spaces, then the option), without --help itself
  awk 'NR == 1, /^$/ { print; next } /^  --[a-z]/ { print $1 }' "$T/out" |
    grep -o -e '--[a-z][a-z-]*' | grep -v -x -e '--help' | sort -u >"$T/help"
  grep -e "^| \`voxfit $cmd " "$README" | head -n 1 | sed 's/^| `\([^`]*\)`.*/\1/' |
    grep -o -e '--[a-z][a-z-]*' | sort -u >"$T/readme"
  grep -q -e "^| \`voxfit $cmd " "$README" || fail "$cmd: no row in README.md's table"
  if cmp -s "$T/help" "$T/readme"; then
    pass "$cmd: README.md's row and --help name the same options ($(tr '\n' ' ' <"$T/help"))"
  else
    fail "$cmd: only in --help: $(comm -23 "$T/help" "$T/readme" | tr '\n' ' ');" \
      "only in README.md: $(comm -13 "$T/help" "$T/readme" | tr '\n' ' ')"
  fi
done

finish
