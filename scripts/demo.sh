#!/usr/bin/env bash
# From a fresh clone to a trained model, with no Hugging Face hub:
#   install naba (CPU torch), check the bundled data, train the small demo model on data/demo and
#   data/examples, then tag the brief's article and print its spans in the original offsets.
# Re-running it is cheap: a finished run is kept (run.overwrite=true retrains).
set -euo pipefail
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
