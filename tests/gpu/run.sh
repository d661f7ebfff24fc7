#!/bin/sh
# The GPU checks and benchmark, for a machine with a CUDA GPU and the CUDA
# toolkit but no Meson, FFmpeg or -dev packages: builds src/dsp (the C files
# with cc, the .cu files with nvcc) with tests/gpu/test_gpu.c and
# bench/gpu.c, runs the CUDA-against-CPU checks (test_gpu: PASS/FAIL lines,
# exit 1 on any failure) and the benchmark (bench_gpu). Everything it writes
# (build log, run.log, test_gpu.txt/json, bench_gpu.txt/json) goes to $OUT
# when set, else to a temporary directory. Each step is a function below,
# run in the order of STEPS, each under a time limit. After the benchmark,
# bench/gpu-torch.py measures torchaudio on the same data where python3 has
# torch and torchaudio, tests/gpu/profile.sh runs legato itself when
# tests/gpu/pack-legato.sh packed it here, and compute-sanitizer's memcheck
# runs test_gpu once more where it is installed. A run with legato:
#   tests/gpu/pack-legato.sh, then the device tool with carry [".gpu-pack"].
#
#   tests/gpu/run.sh            # from the repository root
#   BENCH_ARGS="--tracks 200" tests/gpu/run.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-$(mktemp -d /tmp/legato-gpu.XXXXXX)}
export OUT
mkdir -p "$OUT"
BUILD=$(mktemp -d /tmp/legato-gpu-build.XXXXXX)
LOG="$OUT/run.log"
: >"$LOG"

say() { echo "$*" | tee -a "$LOG"; }

find_nvcc() {
    NVCC=$(command -v nvcc || true)
    [ -n "$NVCC" ] || NVCC=/usr/local/cuda/bin/nvcc
    [ -x "$NVCC" ] || { say "FAIL build: no nvcc on PATH or in /usr/local/cuda/bin"; exit 1; }
    CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$NVCC")")")
    CUDART="$CUDA_HOME/lib64/libcudart_static.a"
    [ -f "$CUDART" ] || CUDART="$CUDA_HOME/lib/libcudart_static.a"
    CC=${CC:-cc}
}

# The flags of src/dsp/meson.build.
build() {
    find_nvcc
    say "== build ($("$NVCC" --version | grep release), $("$CC" --version | head -1))"
    start=$(date +%s)
    CFLAGS="-std=c17 -O2 -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DLG_HAVE_CUDA=1 -Isrc -pthread -Wall -Wextra"
    NVFLAGS="-O3 -std=c++17 --expt-relaxed-constexpr --fmad=true -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 -Xcompiler -fPIC,-fno-threadsafe-statics,-fno-exceptions -Isrc"
    objs=""
    pids=""
    for f in src/dsp/cuda/*.cu; do
        o="$BUILD/$(basename "$f").o"
        objs="$objs $o"
        "$NVCC" $NVFLAGS -c "$f" -o "$o" >>"$OUT/build.log" 2>&1 &
        pids="$pids $!"
    done
    for f in src/dsp/*.c; do
        o="$BUILD/$(basename "$f").o"
        objs="$objs $o"
        "$CC" $CFLAGS -ffp-contract=off -c "$f" -o "$o" >>"$OUT/build.log" 2>&1 &
        pids="$pids $!"
    done
    ok=1
    for p in $pids; do wait "$p" || ok=0; done
    LIBS="$CUDART -ldl -lrt -lpthread -lm"
    if [ $ok = 1 ]; then
        "$CC" $CFLAGS tests/gpu/test_gpu.c $objs $LIBS -o "$BUILD/test_gpu" >>"$OUT/build.log" 2>&1 || ok=0
        "$CC" $CFLAGS bench/gpu.c $objs $LIBS -o "$BUILD/bench_gpu" >>"$OUT/build.log" 2>&1 || ok=0
    fi
    if [ $ok = 0 ]; then
        say "FAIL build (see build.log)"
        tail -40 "$OUT/build.log" | tee -a "$LOG"
        exit 1
    fi
    say "built in $(($(date +%s) - start)) s"
}

# CUDA against the CPU: exits 1 on any FAIL, 77 without a usable GPU.
analysis_checks() {
    say "== test_gpu"
    timeout 180 "$BUILD/test_gpu" >>"$LOG" 2>&1
    rc=$?
    grep -E '^(FAIL|checks:|group |device:|SKIP|backends:)' "$LOG" | tail -50
    say "test_gpu exit status $rc"
    [ $rc = 0 ] || STATUS=1
}

# The data bench_gpu measured, for torchaudio: in memory when /dev/shm has room.
DUMP=""
benchmark() {
    DUMP=/tmp/legato-gpu-dump
    avail=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
    [ "${avail:-0}" -gt 16000000 ] && DUMP=/dev/shm/legato-gpu-dump
    mkdir -p "$DUMP"
    say "== bench_gpu ${BENCH_ARGS:-} --dump $DUMP"
    # shellcheck disable=SC2086
    timeout 300 "$BUILD/bench_gpu" ${BENCH_ARGS:-} --dump "$DUMP" 2>&1 | tee -a "$LOG"
}

torch_compare() {
    [ -n "$DUMP" ] && [ -f "$DUMP/analysis.txt" ] || { say "torchaudio: no data from bench_gpu"; return; }
    say "== torchaudio (bench/gpu-torch.py)"
    PYTHONUNBUFFERED=1 timeout 240 python3 bench/gpu-torch.py "$DUMP" 2>&1 | tee -a "$LOG"
    rm -rf "$DUMP"
}

# compute-sanitizer's memcheck over the checks: out-of-bounds and misaligned
# accesses, and CUDA API errors, in every kernel and copy test_gpu makes.
sanitizer() {
    CS=$(command -v compute-sanitizer || true)
    [ -n "$CS" ] || CS="$CUDA_HOME/bin/compute-sanitizer"
    [ -x "$CS" ] || { say "compute-sanitizer: not installed, skipped"; return; }
    say "== compute-sanitizer --tool memcheck test_gpu"
    # (OUT unset: test_gpu.txt and .json keep the plain run's results.)
    OUT="" timeout "${SANITIZER_TIMEOUT:-90}" "$CS" --tool memcheck --leak-check full \
        --error-exitcode 9 "$BUILD/test_gpu" >"$BUILD/sanitizer.log" 2>&1
    rc=$?
    grep -E '^=+ (ERROR|Invalid|Program hit|[0-9]+ errors|LEAK)|ERROR SUMMARY' \
        "$BUILD/sanitizer.log" | head -40 | tee -a "$LOG"
    say "compute-sanitizer exit status $rc (124: ran past its time limit)"
    [ $rc = 9 ] && STATUS=1
}

# legato itself on the GPU: `legato profile --backend cuda --gpu-profile`,
# with the binary and libraries tests/gpu/pack-legato.sh packed here into
# .gpu-pack/ (the device tool's carry takes it along); skipped without it.
legato_profile() {
    [ -f .gpu-pack/legato ] || { say "legato profile: no .gpu-pack (tests/gpu/pack-legato.sh), skipped"; return; }
    say "== legato profile --backend cuda --gpu-profile (tests/gpu/profile.sh)"
    timeout 180 tests/gpu/profile.sh >>"$LOG" 2>&1
    rc=$?
    tail -15 "$LOG"
    say "profile.sh exit status $rc"
    [ $rc = 0 ] || STATUS=1
}

STEPS=${STEPS:-"build analysis_checks benchmark torch_compare legato_profile sanitizer"}
STATUS=0
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$LOG"
for step in $STEPS; do
    $step
done
rm -rf "$BUILD"
say "results in $OUT; status $STATUS"
exit $STATUS
