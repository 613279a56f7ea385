#!/bin/sh
# Stands in for an engine venv's python: `fake_python.sh -m MODULE args...` runs the fake engine with the args.
shift 2
exec python3 "$(dirname "$(readlink -f "$0")")/fake_engine.py" "$@"
