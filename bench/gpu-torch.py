#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""torchaudio on the GPU, on the data bench_gpu measured (bench_gpu --dump DIR).

    bench/gpu-torch.py DIR

- analysis: torchaudio.functional.loudness (BS.1770-4 integrated loudness) of
  every track in DIR/analysis.f32, taken, like legato's batch, from
  page-locked host memory holding interleaved frames, in chunks of tracks;
  wall time, upload and compute summed separately, and the largest
  difference from legato's CPU and CUDA answers (DIR/analysis.txt).
- stream: torchaudio.transforms.Resample(44100, 48000) (its kernel made
  once) on as many stereo blocks of 1024 frames per step as bench_gpu's
  stream benchmark had jobs, built from the same 16 blocks (DIR/stream.f32):
  upload, resample, download, synchronised per step as legato's batcher is.
  torchaudio's resampler keeps no state between calls, so each block is
  resampled on its own (legato carries each job's filter state).
- resampling accuracy: 2 s of 997 Hz + 15 kHz sines resampled by legato's
  CPU and CUDA batchers and by torchaudio, each against the exact sines at
  the output's sample times (the middle 1.8 s), as a signal-to-error ratio.

Prints a table beside legato's figures (read from $OUT/bench_gpu.json) and
writes $OUT/bench_torch.json. Exits 0 with a line saying why when torch or
torchaudio is missing.
"""
import json
import math
import os
import sys
import time


def log(*a):
    print(*a, flush=True)


def read_floats(torch, path):
    n = os.path.getsize(path) // 4
    return torch.from_file(path, shared=False, size=n, dtype=torch.float32)


def sync(torch, dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def analysis(torch, F, dev, d, ours, res):
    with open(os.path.join(d, "analysis.txt")) as f:
        head = f.readline().split()
        shape = dict(zip(head[0::2], map(int, head[1::2])))
        rows = [line.split() for line in f if line.strip()]
    n, frames, ch, rate = shape["tracks"], shape["frames"], shape["channels"], shape["rate"]
    lg_cpu = [float(r[1]) for r in rows]
    lg_cuda = [float(r[2]) for r in rows]
    pcm = read_floats(torch, os.path.join(d, "analysis.f32")).view(n, frames, ch)
    chunk = max(1, min(125, n))
    pin = torch.empty((chunk, frames, ch), dtype=torch.float32, pin_memory=dev.type == "cuda")
    # Warm-up on 1 s: kernels loaded, allocator primed.
    pin[:1].copy_(pcm[:1])
    F.loudness(pin[:1, :rate].to(dev).transpose(1, 2), rate)
    sync(torch, dev)
    up_s = comp_s = wall_s = 0.0
    out = []
    # One track first; then chunks, as many tracks as the time budget allows.
    budget = float(os.environ.get("TORCH_BUDGET_S", "60"))
    i = 0
    while i < n and wall_s < budget:
        c = 1 if i == 0 else min(chunk, n - i, max(1, int((budget - wall_s) / (wall_s / i))))
        pin[:c].copy_(pcm[i:i + c])  # untimed: the data are in page-locked memory
        t0 = time.perf_counter()
        g = pin[:c].to(dev, non_blocking=True)
        sync(torch, dev)
        t1 = time.perf_counter()
        lufs = F.loudness(g.transpose(1, 2), rate)
        sync(torch, dev)
        t2 = time.perf_counter()
        out.extend(lufs.double().cpu().tolist())
        up_s += t1 - t0
        comp_s += t2 - t1
        wall_s += time.perf_counter() - t0
        i += c
        del g, lufs
    n = len(out)
    audio_s = n * frames / rate

    def worst(a, b):
        d = [abs(x - y) for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
        return (max(d) if d else float("nan")), len(d)

    w_cpu, k = worst(out, lg_cpu)
    w_cuda, _ = worst(out, lg_cuda)
    res["analysis"] = {
        "tracks": n, "audio_s": audio_s, "chunk": chunk, "wall_s": wall_s,
        "upload_s": up_s, "compute_s": comp_s, "x_realtime": audio_s / wall_s,
        "max_diff_vs_legato_cpu_lu": w_cpu, "max_diff_vs_legato_cuda_lu": w_cuda,
        "compared": k,
    }
    a = ours.get("analysis") or {}
    lc = a.get("cuda") or {}
    if n < len(rows):
        log(f"  (torchaudio measured on the first {n} tracks only, after {budget:.0f} s; "
            "its x realtime is comparable, its wall time is not)")
    log(f"analysis: {n} tracks x {frames / rate:.0f} s, {ch} ch, {rate} Hz "
        f"({audio_s:.0f} s of audio), integrated loudness")
    log(f"  {'':34} {'wall s':>9} {'x realtime':>11} {'kernels s':>10} {'upload s':>9}")
    if a.get("cpu"):
        cpu = a["cpu"]
        log(f"  {'legato cpu (' + str(cpu['threads']) + ' threads)':34} {cpu['wall_s']:9.3f} "
            f"{cpu['x_realtime']:11.0f}")
    if lc:
        log(f"  {'legato cuda':34} {lc['wall_s']:9.3f} {lc['x_realtime']:11.0f} "
            f"{lc['kernels_ms'] / 1e3:10.3f} {lc['upload_ms'] / 1e3:9.3f}")
    log(f"  {'torchaudio ' + torchaudio_version() + ' (' + dev.type + ')':34} {wall_s:9.3f} "
        f"{audio_s / wall_s:11.0f} {comp_s:10.3f} {up_s:9.3f}")
    if lc:
        # Rates (audio seconds per second), so that a partial torchaudio run compares.
        lg_audio = a.get("audio_s", audio_s)
        sp_wall = lc["x_realtime"] / (audio_s / wall_s)
        sp_comp = (lg_audio / (lc["kernels_ms"] / 1e3)) / (audio_s / comp_s)
        log(f"  legato cuda / torchaudio: {sp_wall:.2f}x on wall time, {sp_comp:.2f}x on compute")
        res["analysis"]["legato_speedup_wall"] = sp_wall
        res["analysis"]["legato_speedup_compute"] = sp_comp
    log(f"  largest |torchaudio - legato| integrated: {w_cpu:.4f} LU (cpu), "
        f"{w_cuda:.4f} LU (cuda), over {k} tracks")
    del pcm, pin


def torchaudio_version():
    try:
        import torchaudio
        return torchaudio.__version__.split("+")[0]
    except Exception:
        return "?"


# torchaudio's resampler as it comes (a Hann-windowed sinc 6 zero crossings
# wide) and with Kaiser windows of more zero crossings, nearer legato's
# quality; each is timed and measured against the exact sines.
KAISER = {"resampling_method": "sinc_interp_kaiser", "rolloff": 0.945, "beta": 14.769656459379492}
RESAMPLERS = [
    ("default", {}),
    ("kaiser 16", dict(KAISER, lowpass_filter_width=16)),
    ("kaiser 32", dict(KAISER, lowpass_filter_width=32)),
    ("kaiser 64", dict(KAISER, lowpass_filter_width=64)),
]


def stream(torch, T, dev, d, ours, res):
    s = ours.get("stream") or {}
    jobs, steps, frames = s.get("jobs", 1000), s.get("steps", 50), s.get("frames", 1024)
    blocks = read_floats(torch, os.path.join(d, "stream.f32")).view(16, frames, 2)
    planar = blocks.transpose(1, 2).contiguous()  # (16, 2, frames)
    pin = dev.type == "cuda"
    # The step's input: job k's block is (k + step) % 16, as in bench_gpu.
    inputs = []
    for st in range(16):
        idx = torch.tensor([(k + st) % 16 for k in range(jobs)])
        x = planar.index_select(0, idx)
        inputs.append(x.pin_memory() if pin else x)
    resident = [x.to(dev) for x in inputs]
    audio_s = jobs * frames * steps / 44100.0
    res["stream"] = {"jobs": jobs, "steps": steps, "torchaudio": {}}
    rows = []
    for label, kw in RESAMPLERS:
        rs = T.Resample(44100, 48000, **kw).to(dev)
        out_frames = rs(inputs[0][:1].to(dev)).shape[-1]
        host_out = torch.empty((jobs, 2, out_frames), dtype=torch.float32, pin_memory=pin)
        for st in range(3):  # warm-up
            host_out.copy_(rs(inputs[st].to(dev, non_blocking=True)), non_blocking=True)
        sync(torch, dev)
        t0 = time.perf_counter()
        for st in range(steps):
            y = rs(inputs[st % 16].to(dev, non_blocking=True))
            host_out.copy_(y, non_blocking=True)
            sync(torch, dev)
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        for st in range(steps):
            rs(resident[st % 16])
        sync(torch, dev)
        comp = time.perf_counter() - t0
        snr = (res.get("accuracy", {}).get("torchaudio " + label) or {}).get("snr_db", float("nan"))
        res["stream"]["torchaudio"][label] = {
            "steps_per_s": steps / wall, "x_realtime": audio_s / wall,
            "compute_ms_per_step": comp / steps * 1e3, "snr_db": snr,
        }
        rows.append((label, steps / wall, comp / steps * 1e3, snr))
        del rs, host_out
    lc = s.get("cuda") or {}
    log(f"stream: {jobs} blocks of {frames} stereo frames per step, 44.1 -> 48 kHz, {steps} steps")
    if s.get("cpu"):
        log(f"  legato cpu ({s['cpu']['threads']} threads, resample + gain + limiter): "
            f"{s['cpu']['steps_per_s']:.1f} steps/s")
    if lc:
        log(f"  legato cuda (resample + gain + limiter, state kept): {lc['steps_per_s']:.1f} "
            f"steps/s, kernels {lc['kernels_ms']:.3f} ms per step")
    lr = (ours.get("resample") or {}).get("cuda") or {}
    if lr:
        log(f"  legato cuda (resample alone, state kept): {lr['steps_per_s']:.1f} steps/s, "
            f"kernels {lr['kernels_ms']:.3f} ms per step (summed over its parts), "
            f"GPU busy {lr['gpu_ms']:.3f} ms per step")
    lg_snr = (res.get("accuracy", {}).get("legato cuda") or {}).get("snr_db", float("nan"))
    log(f"  legato's resampler: signal/error {lg_snr:.1f} dB")
    log("  torchaudio Resample (stateless, resample only):")
    for label, sps, ms, snr in rows:
        ratio = f", legato cuda chain / this {lc['steps_per_s'] / sps:.2f}x" if lc else ""
        if lr:
            ratio += f", legato cuda resample / this {lr['steps_per_s'] / sps:.2f}x"
        log(f"    {label:10} {sps:8.1f} steps/s, {ms:.3f} ms per step on resident data, "
            f"signal/error {snr:6.1f} dB{ratio}")
    res["stream"]["legato_resample"] = lr


def accuracy(torch, T, dev, d, res):
    def exact(n):
        t = torch.arange(n, dtype=torch.float64) / 48000.0
        return 0.25 * torch.sin(2 * math.pi * 997.0 * t) + 0.25 * torch.sin(2 * math.pi * 15000.0 * t)

    x = read_floats(torch, os.path.join(d, "resample_in.f32")).view(-1, 2)
    ys = {}
    for label, kw in RESAMPLERS:
        rs = T.Resample(44100, 48000, **kw).to(dev)
        ys["torchaudio " + label] = rs(x.t().contiguous().to(dev))[0].cpu()
    for name in ("cpu", "cuda"):
        p = os.path.join(d, f"resample_{name}.f32")
        if os.path.exists(p):
            ys["legato " + name] = read_floats(torch, p).view(-1, 2)[:, 0]
    log("resampling 997 Hz + 15 kHz, 44.1 -> 48 kHz, against the exact sines (middle 1.8 s):")
    res["accuracy"] = {}
    for name, y in ys.items():
        n = y.shape[0]
        lo, hi = 4800, min(n, 96000) - 4800
        ref = exact(n)[lo:hi]
        err = y.double()[lo:hi] - ref
        snr = 10 * math.log10(float((ref ** 2).mean()) / max(float((err ** 2).mean()), 1e-300))
        worst = float(err.abs().max())
        res["accuracy"][name] = {"frames": n, "snr_db": snr, "max_error": worst}
        log(f"  {name:20} {n:6d} frames  signal/error {snr:6.1f} dB  largest error {worst:.2e}")
    if "legato cpu" in ys and "legato cuda" in ys:
        a, b = ys["legato cpu"], ys["legato cuda"]
        m = min(a.shape[0], b.shape[0])
        diff = float((a[:m] - b[:m]).abs().max())
        res["accuracy"]["cpu_vs_cuda_max_diff"] = diff
        log(f"  legato cpu against cuda: largest difference {diff:.2e}")


def main():
    if len(sys.argv) != 2:
        log("usage: bench/gpu-torch.py DIR")
        return 2
    d = sys.argv[1]
    try:
        import torch
        import torchaudio.functional as F
        import torchaudio.transforms as T
    except Exception as e:  # noqa: BLE001
        log(f"torchaudio: not measured ({type(e).__name__}: {e})")
        return 0
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out_dir = os.environ.get("OUT")
    ours = {}
    if out_dir and os.path.exists(os.path.join(out_dir, "bench_gpu.json")):
        with open(os.path.join(out_dir, "bench_gpu.json")) as f:
            ours = json.load(f)
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    log(f"torch {torch.__version__}, torchaudio {torchaudio_version()}, on {name}")
    res = {"torch": torch.__version__, "torchaudio": torchaudio_version(), "device": name}
    status = 0
    for part in (lambda: accuracy(torch, T, dev, d, res),
                 lambda: stream(torch, T, dev, d, ours, res),
                 lambda: analysis(torch, F, dev, d, ours, res)):
        try:
            part()
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            log(f"torchaudio: a part failed: {type(e).__name__}: {e}")
            status = 1
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        if out_dir:  # after every part, in case a later one runs out of time
            with open(os.path.join(out_dir, "bench_torch.json"), "w") as f:
                json.dump(res, f, indent=1)
    return status


if __name__ == "__main__":
    sys.exit(main())
