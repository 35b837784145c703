#!/usr/bin/env bash
# The GPU run of issue 30, one script: on a machine with an NVIDIA GPU, the forward and train
# benches and one `cats_vs_dogs` epoch on `wgpu` and on `cuda`, images/s and the GPU's peak
# memory written to one JSON file.
#
#   benches/gpu.sh [OUT.json]            # default: gpu-run.json
#
# Builds with `--features wgpu,cuda` where cargo and the crates are at hand. A GPU machine
# without network (or without a Rust toolchain) runs binaries built elsewhere instead: build
# them on a machine with the same CPU architecture and glibc, copy the folder, and point
# GPU_BINARIES at it:
#
#   cargo bench --features wgpu,cuda --bench forward --bench train --no-run
#   cargo build --release --features wgpu,cuda --example cats_vs_dogs
#   mkdir gpu-bin && cp target/release/deps/forward-* target/release/deps/train-* \
#     target/release/examples/cats_vs_dogs gpu-bin/   # the executables, not the .d files
#   GPU_BINARIES=gpu-bin benches/gpu.sh
#
# `cuda` needs the NVIDIA driver and the CUDA runtime libraries (libcuda, libnvrtc) on the GPU
# machine; its build downloads Tracel's LLVM bundle once (cubecl-llvm's build script), so build
# it where the network is. Each bench is short (criterion's 10 samples); the whole run takes a
# few minutes on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-run.json}"
work="$(mktemp -d)"
trap 'kill "${sampler:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${GPU_BINARIES:-}" ]; then
  pick() { find "$GPU_BINARIES" -maxdepth 1 -type f -perm -u+x -name "$1*" ! -name '*.d' | head -n 1; }
  forward_bin="$(pick forward-)"
  train_bin="$(pick train-)"
  example_bin="$GPU_BINARIES/cats_vs_dogs"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
  cargo bench --features wgpu,cuda --bench forward --bench train --no-run
  cargo build --release --features wgpu,cuda --example cats_vs_dogs
  newest() { ls -t "$CARGO_TARGET_DIR"/release/deps/"$1"-* | grep -v '\.d$' | head -n 1; }
  forward_bin="$(newest forward)"
  train_bin="$(newest train)"
  example_bin="$CARGO_TARGET_DIR/release/examples/cats_vs_dogs"
fi
for bin in "$forward_bin" "$train_bin" "$example_bin"; do
  [ -x "$bin" ] || { echo "gpu.sh: no executable at '$bin'" >&2; exit 1; }
done

# The GPU's used memory, sampled every 100 ms while a command runs; its peak in MiB.
peak_memory() {
  local log="$work/memory.log"
  : > "$log"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$log" 2>/dev/null &
  sampler=$!
  "$@"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sort -n "$log" | tail -n 1
}

# Criterion's median time of a bench (its `estimates.json`), as images/s for `batch` images.
images_per_second() {
  local estimates="$1" batch="$2"
  python3 -c 'import json, sys; print(round(int(sys.argv[2]) / (json.load(open(sys.argv[1]))["median"]["point_estimate"] / 1e9), 2))' \
    "$estimates" "$batch"
}

export CRITERION_HOME="$work/criterion"
results=()
for backend in wgpu cuda; do
  memory=$(peak_memory env FORWARD_BACKENDS="$backend" "$forward_bin" --bench > "$work/forward-$backend.log" 2>&1 || true)
  for id in mixed7_150_b32 mobilenet_v2_160_b32 xception_150_b32 efficientnet_b0_224_b32; do
    estimates="$CRITERION_HOME/forward/$id/$backend/new/estimates.json"
    if [ -f "$estimates" ]; then
      results+=("{\"bench\": \"forward/$id\", \"backend\": \"$backend\", \"images_per_second\": $(images_per_second "$estimates" 32), \"peak_gpu_memory_mib\": ${memory:-null}}")
    else
      results+=("{\"bench\": \"forward/$id\", \"backend\": \"$backend\", \"error\": \"no result: see the log\"}")
    fi
  done
  for part in course mobilenet xception efficientnet; do
    memory=$(peak_memory env TRAIN_BACKEND="$backend" TRAIN_ONLY="$part" "$train_bin" --bench > "$work/train-$part-$backend.log" 2>&1 || true)
    for estimates in "$CRITERION_HOME"/train/*/new/estimates.json; do
      [ -f "$estimates" ] || continue
      name="$(basename "$(dirname "$(dirname "$estimates")")")"
      case "$name" in *_b20) batch=20 ;; *) batch=32 ;; esac
      results+=("{\"bench\": \"train/$name\", \"backend\": \"$backend\", \"images_per_second\": $(images_per_second "$estimates" "$batch"), \"peak_gpu_memory_mib\": ${memory:-null}}")
      rm -rf "$(dirname "$(dirname "$estimates")")"
    done
  done
  # One epoch of the main job on its stand-in data (20 steps of 20 images at 150x150).
  start=$(date +%s.%N)
  memory=$(peak_memory "$example_bin" --backend "$backend" --output "$work/job-$backend" --epochs 1 \
    --steps-per-epoch 20 --validation-steps 5 --batch-size 20 > "$work/job-$backend.log" 2>&1 || true)
  seconds=$(python3 -c "import sys; print(round($(date +%s.%N) - $start, 2))")
  results+=("{\"bench\": \"cats_vs_dogs epoch (20 x 20 images, 5 validation steps)\", \"backend\": \"$backend\", \"seconds\": $seconds, \"peak_gpu_memory_mib\": ${memory:-null}}")
done

mkdir -p "$(dirname "$out")"
{
  echo "{"
  echo "  \"gpu\": \"$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n 1)\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"results\": ["
  for i in "${!results[@]}"; do
    sep=","; [ "$i" -eq $((${#results[@]} - 1)) ] && sep=""
    echo "    ${results[$i]}$sep"
  done
  echo "  ]"
  echo "}"
} > "$out"
cp "$work"/*.log "$(dirname "$out")/" 2>/dev/null || true
echo "gpu.sh: wrote $out"
