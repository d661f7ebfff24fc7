#!/bin/sh
# On the GPU machine: `legato profile --backend cuda --gpu-profile` over a
# generated track, with the binary and libraries tests/gpu/pack-legato.sh
# packed into .gpu-pack/ here, and a check that the Perfetto trace holds the
# CPU stages and the GPU's kernels and copies on one time line: GPU records
# on their own rows, each copy and kernel inside the span of the CPU call
# that queued it (a batch run, the batcher's open or a job's join). Writes
# the trace to $OUT/trace.json; the rest goes to standard output.
# BACKEND=cpu GPU_PROFILE=0 runs the same without a GPU (the check then
# looks at the CPU stages only).
#
#   tests/gpu/profile.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
OUT=${OUT:-$(mktemp -d /tmp/legato-profile.XXXXXX)}
mkdir -p "$OUT"
BACKEND=${BACKEND:-cuda}
GPU_PROFILE=${GPU_PROFILE:-1}
work=$(mktemp -d /tmp/legato-profile-work.XXXXXX)
[ -f .gpu-pack/legato ] || { echo "profile: no .gpu-pack/legato (tests/gpu/pack-legato.sh)"; exit 1; }
python3 - "$work" <<'PY' || exit 1
import lzma, sys, tarfile, wave, math, struct, random
work = sys.argv[1]
with lzma.open(".gpu-pack/lib.tar.xz") as f, tarfile.open(fileobj=f) as t:
    t.extractall(work)
# 60 s of stereo at 44.1 kHz, loud enough for the limiter: tone and noise.
rnd = random.Random(7)
w = wave.open(f"{work}/track.wav", "wb")
w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100)
frames = bytearray()
for i in range(44100 * 60):
    v = 0.9 * math.sin(2 * math.pi * 440 * i / 44100) + 0.1 * (rnd.random() * 2 - 1)
    s = max(-32767, min(32767, int(v * 32767)))
    frames += struct.pack("<hh", s, s)
w.writeframes(bytes(frames)); w.close()
PY
cp .gpu-pack/legato "$work/legato"
flags="--backend $BACKEND --format opus --trace $OUT/trace.json"
[ "$GPU_PROFILE" = 1 ] && flags="$flags --gpu-profile"
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$work/lib" "$work/legato" profile $flags "$work/track.wav" \
    >"$work/profile.txt" 2>&1
rc=$?
cat "$work/profile.txt"
echo "legato profile exit status $rc"
[ $rc = 0 ] || { rm -rf "$work"; exit 1; }
python3 - "$OUT/trace.json" "$GPU_PROFILE" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))
ev = ev["traceEvents"] if isinstance(ev, dict) else ev
spans = [e for e in ev if e.get("ph") == "X"]
cpu = [e for e in spans if e.get("tid", 0) < 1000000]
gpu = [e for e in spans if e.get("tid", 0) >= 1000000]
names = {}
for e in cpu:
    names[e["name"]] = names.get(e["name"], 0) + 1
print("cpu spans:", ", ".join(f"{k} {v}" for k, v in sorted(names.items())))
ok = all(names.get(k, 0) > 0 for k in ("load", "process", "generate"))
if sys.argv[2] == "1":
    kinds = {}
    for e in gpu:
        kinds[e.get("cat", "?")] = kinds.get(e.get("cat", "?"), 0) + 1
    print("gpu records:", ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "none")
    # The CPU calls that queue GPU work: batch runs, and the batcher's open
    # (the limiter's coefficients) and a job's join (its state and table).
    runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in cpu
                  if e["name"] in ("batch", "open", "join"))
    # Each GPU record lies inside one of them (0.2 ms of slack for the clocks).
    inside = 0
    for e in gpu:
        a, b = e["ts"], e["ts"] + e["dur"]
        if any(r0 - 200 <= a and b <= r1 + 200 for r0, r1 in runs):
            inside += 1
    print(f"gpu records inside the CPU call that queued them: {inside} of {len(gpu)}")
    for e in gpu:
        a, b = e["ts"], e["ts"] + e["dur"]
        if not any(r0 - 200 <= a and b <= r1 + 200 for r0, r1 in runs):
            print("  outside:", e["name"], e.get("cat"), a)
    ok = ok and len(gpu) > 0 and inside == len(gpu) and "kernel" in kinds and "memcpy" in kinds
print("PASS" if ok else "FAIL", "the CPU stages and the GPU records line up" if ok else "")
sys.exit(0 if ok else 1)
PY
rc=$?
rm -rf "$work"
exit $rc
