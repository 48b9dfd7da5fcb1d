#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter found on this machine, or fail with a message.
# Order: $PYTHON, python3.12 / python3.13 / python3 on PATH, then pyenv's installed versions.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
for name in python3.12 python3.13 python3; do
    p=$(command -v "$name" 2>/dev/null) && candidates+=("$p")
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for p in $(ls -d "$root"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -V); do
    candidates+=("$p")
done
for p in "${candidates[@]}"; do
    if ok "$p"; then echo "$p"; exit 0; fi
done
echo "error: no Python >= 3.12 found (tried: ${candidates[*]:-none}); install one or set PYTHON=/path/to/python" >&2
exit 1
