#!/usr/bin/env bash
# The whole system in one command, on a fresh machine: set up, generate synthetic bears
# (or use a chips folder: tools/demo.sh --chips DIR), train a small embedder on the CPU,
# export it, enrol the gallery, start a private Mosquitto and the agent on a temporary
# watch folder, drop chips like camera traps (with --frames: whole frames and a video clip,
# and a face detector trained here cuts the chips), print the MQTT messages, report accuracy,
# and shut everything down. Options go to the demo (tools/demo.sh --help). The demo lives in
# the development harness dev/bearid_dev, which is not installed: it runs from here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
PYTHONPATH="$PWD/dev${PYTHONPATH:+:$PYTHONPATH}" exec .venv/bin/python -m bearid_dev.demo "$@"
