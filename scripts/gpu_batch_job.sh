#!/usr/bin/env bash
# naba predict on a GPU node: one process per GPU (accelerate launch), bf16, input sharded among the
# processes, output resumable. Run it again (or let SLURM requeue it) after a crash, a timeout or a
# preemption: it skips the documents already written and finishes the rest.
#
# SLURM:  mkdir -p logs && sbatch scripts/gpu_batch_job.sh
#         MODEL=runs/arabert/best INPUT=corpus.parquet OUTPUT=out/tags.jsonl sbatch scripts/gpu_batch_job.sh
# Plain:  MODEL=... INPUT=... OUTPUT=... bash scripts/gpu_batch_job.sh
#
# The #SBATCH lines below are defaults; sbatch options on the command line override them.
#SBATCH --job-name=naba-predict
#SBATCH --nodes=1
#SBATCH --gres=gpu:4
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --time=12:00:00
#SBATCH --output=logs/%x-%j.out
#SBATCH --requeue
set -euo pipefail

# Everything can be overridden from the environment.
MODEL=${MODEL:-runs/arabert/best}          # run folder, checkpoint folder or cached hub id
INPUT=${INPUT:-data/corpus.jsonl}          # .jsonl, .parquet, .txt or a folder of .txt
OUTPUT=${OUTPUT:-out/predictions.jsonl}    # JSONL, one line per document, in input order
REJECTS=${REJECTS:-${OUTPUT%.*}.rejects.jsonl}
LOG=${LOG:-${OUTPUT%.*}.log}
ID_FIELD=${ID_FIELD:-id}
TEXT_FIELD=${TEXT_FIELD:-text}
DTYPE=${DTYPE:-bf16}                        # bf16 on A100/H100-class GPUs; fp16 on older ones
BATCH_TOKENS=${BATCH_TOKENS:-65536}         # padded tokens per batch; an OOM halves it by itself
CHUNK_DOCS=${CHUNK_DOCS:-2048}              # documents read, tagged and made durable per chunk
WORKERS=${WORKERS:-auto}                    # host processes per GPU process that prepare, encode and decode
                                            # (auto: the cores per GPU process less one, up to 16)
EXTRA_ARGS=${EXTRA_ARGS:-}                  # e.g. "--rules" or "--format labelstudio"
LAUNCHER=${LAUNCHER:-accelerate}            # or torchrun (also runs on CPU-only machines, over gloo)
LAUNCH_ARGS=${LAUNCH_ARGS:-}                # extra launcher options
if [ -z "${NPROC:-}" ]; then
  if [ -n "${SLURM_GPUS_ON_NODE:-}" ]; then NPROC=$SLURM_GPUS_ON_NODE
  elif command -v nvidia-smi >/dev/null 2>&1; then NPROC=$(nvidia-smi -L | wc -l)
  else NPROC=1
  fi
fi

cd "${NABA_ROOT:-$(dirname "$0")/..}"
mkdir -p "$(dirname "$OUTPUT")" "$(dirname "$LOG")"
# no network on compute nodes: the model must be a local folder or already in the HF cache
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export TOKENIZERS_PARALLELISM=false
# the progress bar (docs/s, tok/s) goes to the log once a minute instead of redrawing
export TQDM_MININTERVAL=${TQDM_MININTERVAL:-60}

# shellcheck disable=SC2206  # LAUNCH_ARGS is a list of words on purpose
if [ "$NPROC" -gt 1 ] && [ "$LAUNCHER" = torchrun ]; then
  launch=(torchrun --standalone --nproc_per_node "$NPROC" $LAUNCH_ARGS -m naba.cli)
elif [ "$NPROC" -gt 1 ]; then
  launch=(accelerate launch --multi_gpu --num_processes "$NPROC" --num_machines 1 --mixed_precision no
          --dynamo_backend no $LAUNCH_ARGS -m naba.cli)
else
  launch=(python -m naba.cli)
fi

status=0
{
  echo "== $(date -Is) naba predict on $(hostname): $NPROC process(es), $DTYPE, workers $WORKERS, job ${SLURM_JOB_ID:-none}"
  echo "   model=$MODEL input=$INPUT output=$OUTPUT"
} >>"$LOG"
# shellcheck disable=SC2086  # EXTRA_ARGS is a list of words on purpose
"${launch[@]}" predict "$MODEL" "$INPUT" -o "$OUTPUT" --rejects "$REJECTS" \
  --id-field "$ID_FIELD" --text-field "$TEXT_FIELD" --dtype "$DTYPE" \
  --batch-tokens "$BATCH_TOKENS" --chunk-docs "$CHUNK_DOCS" --workers "$WORKERS" $EXTRA_ARGS >>"$LOG" 2>&1 || status=$?
echo "== $(date -Is) exit $status" >>"$LOG"
exit $status
