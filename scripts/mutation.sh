#!/usr/bin/env bash
# Mutation testing (mutmut 3, from the `dev` extra) of some modules against some tests, in a
# throw-away copy of the repository so mutmut's `mutants/` directory and its config never touch
# the working tree. Not run by .ci/run: a module takes minutes.
#
#   bash scripts/mutation.sh <module.py>... -- <pytest args>
#
# e.g.
#   bash scripts/mutation.sh audiovoice_ops/core/envfile.py audiovoice_ops/core/interpolation.py \
#        -- tests/core/test_envfile.py tests/core/test_interpolation.py
#
# Prints mutmut's survivors, then one line per module and a total: "killed/total (percent)".
# Killed counts mutants a test caught or that timed out; "no tests" mutants (lines no selected test
# runs) count as survivors. Environment: PYTHON (default: .venv/bin/python of this repository),
# KEEP=1 keeps the copy (its path is printed) for `mutmut browse` / `mutmut show <name>`.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"

modules=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do modules+=("$1"); shift; done
[ $# -gt 0 ] && shift  # the "--"
tests=("$@")
if [ ${#modules[@]} -eq 0 ] || [ ${#tests[@]} -eq 0 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
for module in "${modules[@]}"; do
    [ -f "$repo/$module" ] || { echo "no such module: $module (paths are relative to $repo)" >&2; exit 2; }
done

work="$(mktemp -d /tmp/avops-mutation.XXXXXX)"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
# The tracked and untracked-but-not-ignored files: what a clean clone plus local edits has.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$repo" && xargs -0 cp --parents -t "$work" 2>/dev/null || true)
cd "$work"

# mutmut reads [tool.mutmut] from pyproject.toml: write ours into the copy only.
"$python" - "${modules[@]}" -- "${tests[@]}" <<'EOF'
import json, re, sys
args = sys.argv[1:]
split = args.index("--")
modules, tests = args[:split], args[split + 1:]
source_roots = sorted({m.split("/")[0] for m in modules})
text = open("pyproject.toml").read()
text = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", text)
text += "\n[tool.mutmut]\n"
text += f"source_paths = {json.dumps(source_roots)}\n"
text += f"only_mutate = {json.dumps(modules)}\n"
text += f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
text += 'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
text += 'also_copy = ["engines", "service", "scripts", "docker", "bench"]\n'
open("pyproject.toml", "w").write(text)
EOF

echo "mutating ${modules[*]} in $work (tests: ${tests[*]})" >&2
"$python" -m mutmut run >"$work/mutmut-run.log" 2>&1 || { tail -40 "$work/mutmut-run.log" >&2; exit 1; }
"$python" -m mutmut results --all true >"$work/results.txt" 2>/dev/null || "$python" -m mutmut results >"$work/results.txt"

echo "survivors (mutmut show <name> in a KEEP=1 copy shows the diff):"
grep -E ': (survived|no tests)' "$work/results.txt" | sed 's/^/  /' || true
"$python" - "$work/results.txt" "${modules[@]}" <<'EOF'
import collections, re, sys
results, modules = sys.argv[1], sys.argv[2:]
counts = collections.defaultdict(collections.Counter)
for line in open(results):
    match = re.match(r"\s*(\S+): (.+)$", line.strip())
    if not match:
        continue
    name, status = match.groups()
    module = name.split(".x")[0].split(".xǁ")[0]
    counts[module][status.strip()] += 1
total_killed = total_all = 0
for module in modules:
    dotted = module.removesuffix(".py").replace("/", ".")
    c = counts.get(dotted, collections.Counter())
    killed = c["killed"] + c["timeout"]
    everything = sum(c.values()) - c["skipped"]
    total_killed, total_all = total_killed + killed, total_all + everything
    pct = 100 * killed / everything if everything else 0.0
    print(f"{module}: {killed}/{everything} killed ({pct:.1f}%)  {dict(c)}")
pct = 100 * total_killed / total_all if total_all else 0.0
print(f"total: {total_killed}/{total_all} killed ({pct:.1f}%)")
EOF
[ "${KEEP:-0}" = 1 ] && echo "copy kept at $work" >&2 || true
