#!/usr/bin/env bash
# The structure drawn from the includes (docs/architecture.md): no include cycle between files, and
# no dependency running from a lower room back up.
#   plugin: base < content < read < assess < write < the engine (plugin/src/*) < abi
#   hosts:  sdk/include (the public headers) < sdk/host < tools/common < services, bench < tools
# The plugin may include only its own rooms and the public headers; host code never includes the
# plugin's rooms. Usage: check_structure.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"

rank() {  # the room of a file and its rank in its side's order
  case $1 in
    plugin/src/base/*) echo "plugin 0 base" ;;
    plugin/src/content/*) echo "plugin 1 content" ;;
    plugin/src/read/*) echo "plugin 2 read" ;;
    plugin/src/assess/*) echo "plugin 3 assess" ;;
    plugin/src/write/*) echo "plugin 4 write" ;;
    plugin/src/abi/*) echo "plugin 6 abi" ;;
    plugin/src/*) echo "plugin 5 engine" ;;
    sdk/include/*) echo "public 0 sdk/include" ;;
    sdk/host/*) echo "host 1 sdk/host" ;;
    tools/common/*) echo "host 2 tools/common" ;;
    services/*) echo "host 3 services" ;;
    bench/*) echo "host 3 bench" ;;
    tools/*) echo "host 4 tools" ;;
    *) echo "other 9 other" ;;
  esac
}

mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  'plugin/src/*' 'sdk/include/*' 'sdk/host/*' 'tools/*' 'services/*' 'bench/*' | grep -E '\.(c|h|cpp|hpp)$' |
  while read -r f; do [[ -f $f ]] && echo "$f"; done)
declare -A byPath byName
for f in "${files[@]}"; do byPath[$f]=1; byName[$(basename "$f")]+="$f "; done

# resolve INCLUDER INCLUDED: the tree's file an #include "..." names, or nothing (a system header).
resolve() {
  local dir inc=$2 c
  dir=$(dirname "$1")
  for c in "$dir/$inc" "plugin/src/$inc" "sdk/include/$inc" "sdk/host/include/$inc"; do
    [[ -n ${byPath[$c]:-} ]] && { echo "$c"; return; }
  done
  # host code includes its neighbours' headers by name (their folders are include directories)
  if [[ $inc != */* && -n ${byName[$inc]:-} ]]; then
    read -r -a cands <<<"${byName[$inc]}"
    ((${#cands[@]} == 1)) && echo "${cands[0]}"
  fi
}

bad=0 edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in "${files[@]}"; do
  read -r side r room < <(rank "$f")
  while read -r inc; do
    to=$(resolve "$f" "$inc")
    [[ -z $to || $to == "$f" ]] && continue
    echo "$f $to" >> "$edges"
    read -r tside tr troom < <(rank "$to")
    ok=1
    if [[ $tside == public ]]; then ok=1
    elif [[ $side != "$tside" ]]; then ok=0
    elif ((tr > r)); then ok=0
    fi
    if ((!ok)); then
      echo "structure: $f ($room) includes $to ($troom): a dependency the rooms do not allow" >&2
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
  echo "structure: an include cycle:" >&2
  cat "$edges.err" >&2
  bad=1
fi
rm -f "$edges.err"
((bad)) && exit 1
echo "structure: ${#files[@]} files, $(wc -l < "$edges") includes: no cycle, every dependency runs down"
