#!/usr/bin/env bash
# naba predict on a GPU node: one process per GPU (accelerate launch), naba predict's own dtype (bf16 on
# GPUs that compute it, fp16 on older ones; DTYPE sets it), input sharded among the processes, output
# resumable. Run it again (or let SLURM requeue it) after a crash, a timeout or a
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
# a requeued job keeps its id, so its log file is the same: appended to, not emptied (SLURM's
# default open mode truncates it, losing the first attempt's lines)
#SBATCH --open-mode=append
set -euo pipefail
# Settings come from the environment only: arguments (sbatch gpu_batch_job.sh MODEL INPUT ...) were
# ignored, and the job ran on the defaults instead
if [ $# -gt 0 ]; then
  echo "gpu_batch_job.sh: takes no arguments, not '$*'; set them in the environment:" \
    "MODEL=... INPUT=... OUTPUT=... sbatch scripts/gpu_batch_job.sh" >&2
  exit 2
fi

# Paths in MODEL, INPUT, OUTPUT, REJECTS and LOG that are relative mean the folder the job was started
# in (sbatch's submit folder), although it moves into the checkout below, where the defaults lie.
caller=$PWD
for var in INPUT OUTPUT REJECTS LOG; do
  if [ -n "${!var:-}" ] && [ "${!var#/}" = "${!var}" ]; then printf -v "$var" '%s' "$caller/${!var}"; fi
done
# MODEL may be a hub id (org/name) as well: made absolute only where it names something here
if [ -n "${MODEL:-}" ] && [ "${MODEL#/}" = "$MODEL" ] && [ -e "$caller/$MODEL" ]; then MODEL=$caller/$MODEL; fi

# Everything can be overridden from the environment.
MODEL=${MODEL:-runs/arabert/best}          # run folder, checkpoint folder or cached hub id
INPUT=${INPUT:-data/corpus.jsonl}          # .jsonl (.jsonl.gz, .bz2, .xz, .zst too), .parquet, .txt or a folder of .txt
OUTPUT=${OUTPUT:-out/predictions.jsonl}    # JSONL, one line per document, in input order
# OUTPUT less the extension of its file name (runs/v1.2/tags: runs/v1.2/tags, not runs/v1), for the
# rejects and the log next to it
out_name=${OUTPUT%/}
out_name=${out_name##*/}
case $out_name in *.*) out_stem=${OUTPUT%.*} ;; *) out_stem=${OUTPUT%/} ;; esac
REJECTS=${REJECTS:-$out_stem.rejects.jsonl}
LOG=${LOG:-$out_stem.log}
ID_FIELD=${ID_FIELD:-id}
TEXT_FIELD=${TEXT_FIELD:-text}
DTYPE=${DTYPE:-auto}                        # fp32, bf16, fp16, or auto: naba predict's own choice, bf16 on
                                            # GPUs that compute it (A100, H100), fp16 on older ones (V100, T4:
                                            # bf16 emulated, far slower), fp32 on CPU (LAUNCHER=torchrun)
BATCH_TOKENS=${BATCH_TOKENS:-65536}         # padded tokens per batch; an OOM halves it by itself
CHUNK_DOCS=${CHUNK_DOCS:-2048}              # documents read, tagged and made durable per chunk
WORKERS=${WORKERS:-auto}                    # host processes per GPU process that prepare, encode and decode
                                            # (auto: the cores per GPU process less one, up to 16)
EXTRA_ARGS=${EXTRA_ARGS:-}                  # e.g. "--rules" or "--format labelstudio"
LAUNCHER=${LAUNCHER:-accelerate}            # or torchrun (also runs on CPU-only machines, over gloo)
LAUNCH_ARGS=${LAUNCH_ARGS:-}                # extra launcher options
PY=${PYTHON:-python3}                       # the interpreter of a one-process job
case $LAUNCHER in
  accelerate|torchrun) ;;
  *) echo "gpu_batch_job.sh: LAUNCHER is accelerate or torchrun, not '$LAUNCHER'" >&2; exit 2 ;;
esac
if [ -z "${NPROC:-}" ]; then
  if [ -n "${SLURM_GPUS_ON_NODE:-}" ]; then NPROC=$SLURM_GPUS_ON_NODE
  # the GPUs this job can use, as torch counts them: `nvidia-smi -L` lists all the node's GPUs
  # (CUDA_VISIBLE_DEVICES ignored) plus a line per MIG instance, and a driver that does not answer
  # made this script stop without a word. No GPU, or no answer: one process.
  else NPROC=$("$PY" -c 'import torch; print(max(1, torch.cuda.device_count()))' 2>/dev/null) || NPROC=1
  fi
fi
case $NPROC in
  ''|*[!0-9]*|0) echo "gpu_batch_job.sh: NPROC must be a number of processes, 1 or more, not '$NPROC'" >&2; exit 2 ;;
esac

# Under sbatch, $0 is slurmd's copy of this script in its spool folder, not scripts/gpu_batch_job.sh:
# the checkout is then the folder sbatch was started from (as the usage above has it). NABA_ROOT, where
# set, names the checkout instead (a job submitted from another folder).
root=$(dirname "$0")/..
if [ -n "${SLURM_JOB_ID:-}" ] && [ ! -d "$root/naba" ]; then root=${SLURM_SUBMIT_DIR:-$root}; fi
cd "${NABA_ROOT:-$root}"
mkdir -p "$(dirname "$OUTPUT")" "$(dirname "$LOG")" "$(dirname "$REJECTS")"
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
  launch=("$PY" -m naba.cli)
fi

# auto: no --dtype, so that naba predict picks for the device each process gets
dtype_args=()
if [ "$DTYPE" != auto ]; then dtype_args=(--dtype "$DTYPE"); fi

status=0
# SLURM (preemption, the time limit) and `kill -- -PGID` send SIGTERM to every process of the job:
# the job stops, and the log says so instead of just ending (bash runs the trap once the job has
# exited, then writes the exit line below)
trap 'echo "== $(date -Is) SIGTERM: stopped; the same command resumes it" >>"$LOG"' TERM
{
  echo "== $(date -Is) naba predict on $(hostname): $NPROC process(es), $DTYPE, workers $WORKERS, job ${SLURM_JOB_ID:-none}"
  echo "   model=$MODEL input=$INPUT output=$OUTPUT"
} >>"$LOG"
# shellcheck disable=SC2086  # EXTRA_ARGS is a list of words on purpose
"${launch[@]}" predict "$MODEL" "$INPUT" -o "$OUTPUT" --rejects "$REJECTS" \
  --id-field "$ID_FIELD" --text-field "$TEXT_FIELD" ${dtype_args[@]+"${dtype_args[@]}"} \
  --batch-tokens "$BATCH_TOKENS" --chunk-docs "$CHUNK_DOCS" --workers "$WORKERS" $EXTRA_ARGS >>"$LOG" 2>&1 || status=$?
echo "== $(date -Is) exit $status" >>"$LOG"
# everything the job prints goes to the log: a failure said nothing on the terminal (or in SLURM's
# .out file), only its exit status
if [ "$status" -ne 0 ]; then echo "gpu_batch_job.sh: naba predict failed (exit $status); see $LOG" >&2; fi
exit $status
