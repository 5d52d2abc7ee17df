#!/usr/bin/env bash
# Line coverage of presencectl with every subprocess included: the CLI the
# tests start (`python -m presencectl ...`, the completion scripts, tmux
# panes) and the parallel `cat` workers are measured too.
#
#   tools/coverage.sh                      # the whole suite
#   tools/coverage.sh tests/core -x        # any pytest arguments
#
# How: coverage.py is installed (dev tooling only, never a runtime
# dependency) into a virtual environment of its own that sees the project's
# installed dependencies; a .pth file there calls coverage.process_startup(),
# which starts measuring in every Python process that has
# COVERAGE_PROCESS_START set. The tests run under that venv's python, so
# `sys.executable` in the tests is that python as well. Data files are written
# per process (parallel mode) and combined at the end.
# Runs under `nice -n 19`: the machine is shared.
# Not measured: the forked worker processes of parallel `cat`/`stats`
# (coverage's multiprocessing support makes their pool hang at exit); the
# code they run is measured in the single-process tests. The import-purity
# tests count only what an import loads (tests/conftest.py modules_loaded_by),
# so coverage's own start-up in every process does not fail them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=${TMPDIR:-/tmp}
venv=$tmp/presencectl-tools
out=$tmp/presencectl-coverage
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv --system-site-packages "$venv"
fi
if ! "$venv/bin/python" -c 'import coverage' 2>/dev/null; then
  "$venv/bin/python" -m pip install -q 'coverage==7.*'
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo 'import coverage; coverage.process_startup()' > "$site/presencectl_coverage_subprocess.pth"

rm -rf "$out"
mkdir -p "$out"
cat > "$out/coveragerc" <<EOF
[run]
source = presencectl
parallel = true
data_file = $out/.coverage
concurrency = thread
sigterm = true
relative_files = false

[paths]
source =
    $root/presencectl
    */presencectl

[report]
precision = 1
show_missing = false
EOF

export COVERAGE_PROCESS_START=$out/coveragerc
export PYTHONPATH=$root
status=0
nice -n 19 "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" || status=$?
"$venv/bin/python" -m coverage combine -q --rcfile="$out/coveragerc" "$out"
"$venv/bin/python" -m coverage report --rcfile="$out/coveragerc" --sort=cover
echo "data: $out/.coverage (coverage html --rcfile=$out/coveragerc for a browsable report)"
exit $status
