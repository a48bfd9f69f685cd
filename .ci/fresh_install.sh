#!/usr/bin/env bash
# README's first command, verbatim, on a fresh venv: the install must bring a working
# JupyterLab, its kernel and everything the notebooks import.
#
# 1. Read the command from README.md (its first ```bash block), so the two cannot drift.
# 2. Run it in a new venv. Its `jupyter lab …` part blocks, so the whole command runs in
#    the background; Jupyter's own config (JUPYTER_CONFIG_DIR, written here) makes the lab
#    headless, root-allowed, on a known port with a known token: the text is unchanged.
# 3. Check the lab serves the quickstart, its kernel runs in the venv and imports the
#    package, and the vibedraw server extension answers (.ci/check_lab.py).
# 4. Execute every notebook in that venv, in place, then check git status is unchanged
#    (what the notebooks write goes to an ignored folder).
# Exits non-zero on any failure; prints the seconds each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$SECONDS

fail() {
  echo "fresh install: FAILED: $*" >&2
  exit 1
}

COMMAND=$(awk '/^```bash$/ { inside = 1; next } inside && /^```$/ { exit } inside' README.md)
[ "$(printf '%s\n' "$COMMAND" | wc -l)" -eq 1 ] || fail "README's first bash block is not one line: $COMMAND"
case "$COMMAND" in
  *"jupyter lab notebooks/01_quickstart.ipynb") ;;
  *) fail "README's first command does not end by opening the quickstart in jupyter lab: $COMMAND" ;;
esac
echo "fresh install: README's first command: $COMMAND"

WORK=$(mktemp -d /tmp/vibedraw-fresh.XXXXXX)
LAB_PID=""
stop_lab() {  # the README command's process group: bash, jupyter lab, its kernels
  [ -n "$LAB_PID" ] || return 0
  kill -TERM -- "-$LAB_PID" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 -- "-$LAB_PID" 2>/dev/null || break; sleep 1; done
  kill -KILL -- "-$LAB_PID" 2>/dev/null || true
  LAB_PID=""
}
finish() {
  stop_lab
  local t0=$SECONDS
  rm -rf "$WORK"
  echo "fresh install: removed $WORK in $((SECONDS - t0)) s"
}
trap finish EXIT

python3 -m venv "$WORK/venv"
export VIRTUAL_ENV="$WORK/venv" PATH="$WORK/venv/bin:$PATH"
unset PYTHONPATH PYTHONHOME
# Jupyter's files stay in $WORK, whatever the machine's own config holds.
export JUPYTER_CONFIG_DIR="$WORK/config" JUPYTER_DATA_DIR="$WORK/data"
export JUPYTER_RUNTIME_DIR="$WORK/runtime" JUPYTER_PLATFORM_DIRS=1
mkdir -p "$JUPYTER_CONFIG_DIR"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export JUPYTER_TOKEN
JUPYTER_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
cat >"$JUPYTER_CONFIG_DIR/jupyter_server_config.json" <<EOF
{
  "ServerApp": {"ip": "127.0.0.1", "port": $PORT, "port_retries": 0,
                "open_browser": false, "allow_root": true},
  "LabApp": {"check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}
}
EOF
git_before=$(git status --porcelain --untracked-files=all)

# Its own process group (setsid), so the lab and its kernels stop together at the end.
setsid bash -c "$COMMAND" >"$WORK/readme-command.log" 2>&1 </dev/null &
LAB_PID=$!
t0=$SECONDS
until curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api/status?token=$JUPYTER_TOKEN" 2>/dev/null; do
  if ! kill -0 "$LAB_PID" 2>/dev/null; then
    tail -n 40 "$WORK/readme-command.log" >&2
    fail "README's command exited before jupyter lab served (log above)"
  fi
  if [ $((SECONDS - t0)) -gt 1500 ]; then
    tail -n 40 "$WORK/readme-command.log" >&2
    fail "jupyter lab did not answer within 1500 s"
  fi
  sleep 2
done
echo "fresh install: install + jupyter lab up in $((SECONDS - t0)) s"

t0=$SECONDS
python "$ROOT/.ci/check_lab.py" "http://127.0.0.1:$PORT/" "$JUPYTER_TOKEN" "$VIRTUAL_ENV" \
  "${COMMAND##* }" \
  || { tail -n 40 "$WORK/readme-command.log" >&2; fail "jupyter lab does not serve a working quickstart"; }
echo "fresh install: lab checks passed in $((SECONDS - t0)) s"

# Every notebook, top to bottom, in that install (nbconvert comes with jupyter-server);
# run in place, so that what they write lands where a user's run would.
for notebook in notebooks/*.ipynb; do
  t0=$SECONDS
  jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --output-dir "$WORK/executed" "$notebook" >"$WORK/nbconvert.log" 2>&1 \
    || { tail -n 40 "$WORK/nbconvert.log" >&2; fail "$notebook did not run top to bottom"; }
  echo "fresh install: $notebook ran in $((SECONDS - t0)) s"
done

git_after=$(git status --porcelain --untracked-files=all)
if [ "$git_before" != "$git_after" ]; then
  diff <(printf '%s\n' "$git_before") <(printf '%s\n' "$git_after") >&2 || true
  fail "installing and running the notebooks changed git status (diff above)"
fi
t0=$SECONDS
stop_lab
echo "fresh install: jupyter lab stopped in $((SECONDS - t0)) s"
echo "fresh install: passed in $((SECONDS - started)) s"
