#!/usr/bin/env bash
# tutorial-snippets.sh [DOC]: check that every code block of docs/tutorial.md is a verbatim copy of
# a region of a source file that the build compiles (and a boot test runs), so the tutorial cannot
# drift from the code.
#
# In the document, a block is announced by a comment line naming the file and the region:
#     <!-- snippet: servers/null/main.c accept -->
#     ```c
#     ...
#     ```
# In the file, the region is the lines strictly between a line containing "tutorial:accept" and
# the next line containing "tutorial:end" (any comment syntax). Both sides are compared after
# removing their common leading indentation. Shell blocks (```sh) are commands to type and output
# blocks (```output) what a run prints (boot.keel.tutorial checks those lines): they are not copies
# of code and need no announcement; any other block without one is an error.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
doc=${1:-$root/docs/tutorial.md}

# Print stdin without the indentation common to its non-blank lines.
dedent() {
  awk '{ line[NR] = $0
         if ($0 ~ /[^ ]/) { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH } }
       END { for (i = 1; i <= NR; i++) print substr(line[i], min + 1) }'
}

# The region NAME of FILE, or nothing (status 1) when the markers are missing.
region() {
  awk -v name="$2" '
    index($0, "tutorial:end") && inside { found = 1; exit }
    inside { print }
    !inside && match($0, "tutorial:" name "([^a-z0-9-]|$)") { inside = 1 }
    END { exit found ? 0 : 1 }' "$1"
}

fail=0 checked=0 line=0 pending="" block="" in_block=0 lang=""
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while IFS= read -r text || [ -n "$text" ]; do
  line=$((line + 1))
  if [ "$in_block" = 1 ]; then
    if [[ "$text" == '```'* ]]; then
      in_block=0
      if [ -n "$pending" ]; then
        read -r file name <<<"$pending"
        if [ ! -f "$root/$file" ]; then
          echo "$doc:$line: $file does not exist"; fail=1
        elif ! region "$root/$file" "$name" >"$tmp/src"; then
          echo "$doc:$line: $file has no region 'tutorial:$name' ... 'tutorial:end'"; fail=1
        else
          printf '%s' "$block" | dedent >"$tmp/doc"
          dedent <"$tmp/src" >"$tmp/src.d"
          if ! diff -u --label "$file ($name)" --label "$(basename "$doc") (block ending at line $line)" \
               "$tmp/src.d" "$tmp/doc"; then
            fail=1
          fi
          checked=$((checked + 1))
        fi
      elif [ "$lang" != sh ] && [ "$lang" != output ]; then
        echo "$doc:$line: a \`\`\`$lang block without a <!-- snippet: FILE REGION --> line before it"; fail=1
      fi
      pending=""
    else
      block+="$text"$'\n'
    fi
    continue
  fi
  if [[ "$text" =~ ^\<!--\ snippet:\ ([^ ]+)\ ([a-z0-9-]+)\ --\>$ ]]; then
    pending="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
  elif [[ "$text" == '```'* ]]; then
    in_block=1 block="" lang=${text#\`\`\`}
  elif [ -n "$pending" ] && [ -n "$text" ]; then
    echo "$doc:$line: <!-- snippet: $pending --> is not followed by a code block"; fail=1
    pending=""
  fi
done <"$doc"
if [ "$checked" = 0 ]; then
  echo "$doc: no snippets found"; fail=1
fi
[ "$fail" = 0 ] && echo "tutorial-snippets: $checked snippets match their sources"
exit $fail
