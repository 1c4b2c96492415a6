#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Writes a man page (section 1) for one of the programs from its own --help
# text, and each subcommand's: the build runs it (cmake/install.cmake) so the
# pages always say what the installed program says.
# Usage: tools/make_man.sh PROGRAM NAME "one-line description" OUT.1 [SUBCOMMAND ...]
set -euo pipefail
prog=$1 name=$2 what=$3 out=$4
shift 4
version=$("$prog" --version 2>/dev/null | head -n 1 || true)
# troff: a leading dot or quote would be a request; backslashes are escapes.
escape() { sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'; }
{
  echo ".TH $(echo "$name" | tr '[:lower:]' '[:upper:]') 1 \"\" \"${version:-$name}\" \"User Commands\""
  echo ".SH NAME"
  echo "$name \\- $what"
  echo ".SH SYNOPSIS"
  echo ".nf"
  "$prog" --help 2>&1 | escape
  echo ".fi"
  for cmd in "$@"; do
    echo ".SH $(echo "$name $cmd" | tr '[:lower:]' '[:upper:]')"
    echo ".nf"
    "$prog" "$cmd" --help 2>&1 | escape
    echo ".fi"
  done
  echo ".SH SEE ALSO"
  echo "The documentation in /usr/share/doc/ralsgan (README.md, docs/)."
} > "$out.tmp"
mv "$out.tmp" "$out"
