#!/usr/bin/env bash
# From a fresh clone to a trained model, with no Hugging Face hub:
#   install naba (CPU torch), check the bundled data, train the small demo model on data/demo and
#   data/examples, then tag the brief's article and print its spans in the original offsets.
# Re-running it is cheap: a finished run is kept; to retrain, python3 -m naba.cli train configs/demo.yaml
# run.overwrite=true (its next step tags runs/demo, so it takes no overrides of its own).
set -euo pipefail
# arguments were ignored without a word: demo.sh run.overwrite=true kept the old run
if [ $# -gt 0 ]; then
  echo "demo.sh: takes no arguments, not '$*'; to retrain: python3 -m naba.cli train configs/demo.yaml run.overwrite=true" >&2
  exit 2
fi
cd "$(dirname "$0")/.."

# torch first: an unpinned torch would pull a multi-GB CUDA build (install your own on a GPU node).
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e .

# naba through the python3 it was just installed into: a `naba` found on PATH may be none (pip's user
# scripts folder, ~/.local/bin, is often not on PATH) or another environment's
python3 -m naba.cli data validate data/
python3 -m naba.cli data stats data/demo/train.jsonl
python3 -m naba.cli train configs/demo.yaml
python3 -m naba.cli tag runs/demo data/examples/hama-article.jsonl
