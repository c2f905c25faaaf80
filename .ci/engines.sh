#!/usr/bin/env bash
# Install Debian's PyTorch and ONNX for the export tests (test/compiler/export/):
# python3-torch, python3-onnx and the BLAS torch loads. Never a pip or model
# download. Call it from .ci/run before `npm test` and export
# CELDA_REQUIRE_TORCH=1, so that a missing engine fails the run instead of
# skipping the tests. The tests use /usr/bin/python3 (Debian's packages are
# not on a pyenv or venv python3's path).
set -euo pipefail
if /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
  echo "engines: $(/usr/bin/python3 -c 'import torch, onnx; print("torch", torch.__version__, "onnx", onnx.__version__)')"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-torch python3-onnx libopenblas0 >/dev/null
echo "engines: $(/usr/bin/python3 -c 'import torch, onnx; print("torch", torch.__version__, "onnx", onnx.__version__)')"
