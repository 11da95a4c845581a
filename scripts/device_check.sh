#!/usr/bin/env bash
# naba's checks for a lent GPU machine, in one call: the CUDA tests (tests/test_predict_cuda.py),
# then the GPU benchmark (scripts/bench_gpu.py, which rewrites BENCHMARKS.md's bench:gpu section).
# Everything worth keeping lands in $OUT: the device and library versions, the test log, the
# benchmark log, a profile of the feeding process over one run, and BENCHMARKS.md, to copy back
# into the checkout.
#
#   bash scripts/device_check.sh                 # on the GPU machine: 570 s at most (timeouts 150 s + 420 s)
#                                                # (the device tool's run: timeout_s 600)
#   bash scripts/device_check.sh --docs 2000     # extra arguments go to bench_gpu.py
#
# The machine's image needs torch, transformers, tokenizers and accelerate (the batch job's own
# needs; not seqeval or datasets), and pytest for the tests. Exit status: non-zero if either part failed.
set -uo pipefail
OUT=${OUT:-$(mktemp -d)}
# a relative OUT means the folder it was started in, not the checkout it moves into
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
# so is a PYTHON given as a relative path (.venv/bin/python); a bare name (python3) is looked up on PATH
case ${PYTHON:-} in /* | "") ;; */*) PYTHON=$PWD/$PYTHON ;; esac
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}
status=0

{
  date -u
  nvidia-smi || echo "no nvidia-smi"
  "$PY" -c "import torch, transformers, tokenizers; print('torch', torch.__version__, '| transformers', transformers.__version__,
'| tokenizers', tokenizers.__version__, '| device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"
} 2>&1 | tee "$OUT/device.txt"

echo "== tests/test_predict_cuda.py"
timeout 150 "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_predict_cuda.py 2>&1 | tee "$OUT/tests.log" || status=1

echo "== scripts/bench_gpu.py $*"
timeout 420 "$PY" scripts/bench_gpu.py --profile "$OUT/profile.txt" "$@" 2>&1 | tee "$OUT/bench_gpu.log" || status=1
cp BENCHMARKS.md "$OUT/"
echo "== done (status $status); files in $OUT"
exit $status
