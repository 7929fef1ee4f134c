# Sourced by the server test scripts: show_log FILE... prints each file that exists to stderr,
# under a "--- FILE" line: a sanitizer's report whole (it is what failed), else the last 15 lines.
show_log() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    echo "--- $f" >&2
    if grep -q 'ERROR: .*Sanitizer\|WARNING: ThreadSanitizer' "$f"; then
      { sed -n '/ERROR: .*Sanitizer\|WARNING: ThreadSanitizer/,$p' "$f" | head -n 200 >&2; } || true  # head may close the pipe early
    else
      tail -n 15 "$f" >&2
    fi
  done
}
