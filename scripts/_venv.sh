# Sourced by scripts/*: makes sure $VENV exists and holds the project with every extra.
PY=${PYTHON:-python3}
VENV=${ACTIVITYPUB_KIT_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "activitypub_kit needs Python >= 3.11 ($PY is older); set PYTHON=..." >&2; exit 1; }
  "$PY" -m venv "$VENV"
fi
_stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$_stamp" ]; then
  echo "installing activitypub_kit and its test dependencies into $VENV ..." >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[all]"
  rm -f "$VENV"/.installed-*
  touch "$_stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
