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

naba data validate data/
naba data stats data/demo/train.jsonl
naba train configs/demo.yaml
naba tag runs/demo data/examples/hama-article.jsonl
