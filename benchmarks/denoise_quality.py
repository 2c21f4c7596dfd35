"""Denoise quality: SI-SDR on real speech plus stationary coloured noise.

    python benchmarks/denoise_quality.py [--snr 5]

Speech: espeak-ng voices x sentences (benchmarks/speech.py) and the upstream demo clips
(resampled to mono; they carry their own faint background noise, so their "clean" reference
is not perfectly clean). Noise: pink, brown and a pink+resonance "fan", unit RMS, mixed at
--snr dB. Reports the mean SI-SDR improvement, the change on clean input (and on 35 dB SNR
input), the same for a plain spectral gate (noisereduce-style: a global noise profile, hard
mask at mean + 1.5 std, smoothed) as a cheap reference, and speed (x real time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.signal import istft, stft

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech import coloured_noise, have_espeak, mix_at_snr, speech_corpus, upstream_clips  # noqa: E402

from ming_edit.dsp.denoise import denoise  # noqa: E402
from metrics import si_sdr  # noqa: E402

KINDS = ("pink", "brown", "fan")


def spectral_gate(audio: np.ndarray, sr: int) -> np.ndarray:
    """noisereduce-like stationary gate with the noise profile from the quietest 10 % frames."""
    nper = 512 if sr <= 16000 else 1024
    _, _, spec = stft(audio, nperseg=nper, noverlap=3 * nper // 4)
    db = 20 * np.log10(np.abs(spec) + 1e-12)
    frame_energy = db.mean(axis=0)
    quiet = db[:, frame_energy <= np.quantile(frame_energy, 0.1)]
    threshold = quiet.mean(axis=1, keepdims=True) + 1.5 * quiet.std(axis=1, keepdims=True)
    mask = uniform_filter((db > threshold).astype(float), size=(3, 5))
    _, out = istft(spec * np.maximum(mask, 10 ** (-25 / 20)), nperseg=nper, noverlap=3 * nper // 4)
    return out[: len(audio)]


def mono_clips() -> list[tuple[str, np.ndarray, int]]:
    out = [(n, a, 16000) for n, a in speech_corpus()] if have_espeak() else []
    out += [(n, a.mean(axis=1), sr) for n, a, sr in upstream_clips()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snr", type=float, default=5.0)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    seconds, spent = 0.0, 0.0
    for i, (name, clean, sr) in enumerate(mono_clips()):
        for method, fn in (("lsa", lambda a, r: denoise(a[:, None], r)[:, 0]), ("gate", spectral_gate)):
            for kind in KINDS:
                noisy = mix_at_snr(clean, coloured_noise(len(clean), kind, seed=i), args.snr)
                start = time.perf_counter()
                out = fn(noisy, sr)
                if method == "lsa":
                    spent += time.perf_counter() - start
                    seconds += len(clean) / sr
                group = "espeak" if name.startswith("espeak") else "upstream"
                rows.setdefault(f"{method} {group} {kind}", []).append(si_sdr(out, clean) - si_sdr(noisy, clean))
            rows.setdefault(f"{method} {group} clean: SI-SDR(out, in)", []).append(si_sdr(fn(clean, sr), clean))
            faint = mix_at_snr(clean, coloured_noise(len(clean), "pink", seed=i), 35.0)
            rows.setdefault(f"{method} {group} 35 dB SNR: change", []).append(
                si_sdr(fn(faint, sr), clean) - si_sdr(faint, clean)
            )
    print(f"SI-SDR improvement at {args.snr:g} dB SNR (dB; mean / min over clips)")
    for key, values in sorted(rows.items()):
        print(f"  {key:<40} {np.mean(values):7.2f} / {np.min(values):7.2f}   n={len(values)}")
    print(f"MMSE-LSA speed: {seconds / spent:.0f}x real time (mono)")


if __name__ == "__main__":
    main()
