#!/usr/bin/env bash
# The test command: set up (idempotent), then format check, lint, type check, tests.
# Extra arguments go to pytest, e.g. tools/test.sh -k broker -x
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BEARID_VENV:-.venv}

bash tools/setup.sh
export PATH="$PWD/$VENV/bin:$PATH:/usr/sbin:/usr/local/sbin"

echo "== ruff format --check"; ruff format --check .
echo "== ruff check";          ruff check .
echo "== mypy";                mypy agent/bearagent train/beartrain export/bearexport station/bearstation dev/bearid_dev tests bench
echo "== pytest"
set +e
pytest --durations=30 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
