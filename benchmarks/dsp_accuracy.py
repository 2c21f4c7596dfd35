"""Accuracy of the exact DSP edits on real speech (espeak-ng voices + upstream demo clips).

    python benchmarks/dsp_accuracy.py                 # everything
    python benchmarks/dsp_accuracy.py --true-peak     # only the true-peak section (faster)
    python benchmarks/dsp_accuracy.py --true-peak --rates 16000

* volume RAE and speed RDE use the Ming-Freeform-Audio-Edit definitions (ana_vol.py,
  ana_time_stretch.py): RAE = |mean|out| - mean|factor*src|| / mean|src|,
  RDE = |dur_out - dur_src/factor| / dur_src, averaged over files;
* pitch: median over frames of the per-frame f0 shift (YIN 50-1000 Hz; output re-aligned by
  envelope cross-correlation, since sox's WSOLA moves it by up to ~20 ms), and the shift of the
  median f0s (noisier: voicing decisions differ); error = |measured - requested| semitones;
* loudness: integrated loudness error (LU) and true peak minus ceiling, including quiet
  recordings (-25 LUFS with -2.5 dBFS peaks) for which a plain gain would overshoot; the true
  peak both as our meter reads it and exactly (FFT band-limited interpolation, 32x);
* true-peak meter: our reading minus the exact one on the espeak corpus at 16, 22.05, 44.1 and
  48 kHz, and the exact true peak of quiet copies normalised to -14 LUFS / -1.5 dBTP.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly  # a grader's reference only (not on the runtime path)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speech import have_espeak, speech_corpus, upstream_clips  # noqa: E402

from ming_edit.dsp import apply_operation  # noqa: E402
from ming_edit.dsp.loudness.meter import integrated_loudness  # noqa: E402
from metrics import relative_amplitude_error, relative_duration_error, yin_f0  # noqa: E402
from ming_edit.dsp.loudness.truepeak import oversampling_factor, true_peak_dbtp  # noqa: E402
from ming_edit.ops.parser import Operation  # noqa: E402

VOLUMES = (0.25, 0.5, 0.8, 1.5, 2.0, 3.0)
SPEEDS = (0.5, 0.75, 0.8, 1.25, 1.5, 2.0)
PITCHES = (-7.0, -4.0, -2.0, 2.0, 4.0, 7.0, 12.0)
LOUDNESS = ((-16.0, -1.0), (-23.0, -1.0), (-14.0, -1.0), (-20.0, -3.0))


TP_RATES = (16000, 22050, 44100, 48000)


def exact_peak_db(audio: np.ndarray, factor: int = 32) -> float:
    """True peak (dBFS) by exact band-limited interpolation: FFT zero-extension of the spectrum."""
    length = -(-(audio.shape[0] + 4096) // 8192) * 8192  # zero padding; a length FFTs like
    x = np.concatenate([audio, np.zeros((length - audio.shape[0], audio.shape[1]))])
    spectrum = np.fft.rfft(x, axis=0)
    spectrum[-1] *= 0.5  # the Nyquist bin splits between +fs/2 and -fs/2
    wide = np.zeros((length * factor // 2 + 1, x.shape[1]), complex)
    wide[: spectrum.shape[0]] = spectrum
    return float(20 * np.log10(np.abs(np.fft.irfft(wide, length * factor, axis=0)).max() * factor))


def clips() -> list[tuple[str, np.ndarray, int]]:
    out = []
    if have_espeak():
        out += [(name, audio[:, None], 16000) for name, audio in speech_corpus()]
    out += upstream_clips()
    return out


def _align(reference: np.ndarray, shifted: np.ndarray, sr: int) -> np.ndarray:
    """Undo the small time offset (<= 50 ms) that WSOLA inside sox pitch introduces."""
    env = [np.convolve(np.abs(x), np.ones(sr // 200) / (sr // 200), "same") for x in (reference, shifted)]
    reach = sr // 20
    lags = np.arange(-reach, reach + 1, max(1, sr // 4000))
    scores = [np.dot(env[0][reach:-reach], np.roll(env[1], lag)[reach:-reach]) for lag in lags]
    return np.roll(shifted, int(lags[int(np.argmax(scores))]))


def _pitch_errors(audio: np.ndarray, sr: int, semitones: float) -> tuple[float, float]:
    mono = audio.mean(axis=1)
    out = apply_operation(audio, sr, Operation("pitch", {"semitones": semitones})).audio.mean(axis=1)
    assert len(out) == len(mono)
    f0 = yin_f0(mono, sr, fmin=50, fmax=1000)
    f1 = yin_f0(_align(mono, out, sr), sr, fmin=50, fmax=1000)
    with np.errstate(invalid="ignore"):
        ratio = 12 * np.log2(f1 / f0)
    framewise = float(np.median(ratio[np.isfinite(ratio)]))
    medians = float(12 * np.log2(np.nanmedian(f1) / np.nanmedian(f0)))
    return abs(framewise - semitones), abs(medians - semitones)


def _quiet(audio: np.ndarray, sr: int) -> np.ndarray:
    """The same speech as a quiet recording: -25 LUFS with a -2.5 dBFS peak (a click)."""
    quiet = audio * 10 ** ((-25 - integrated_loudness(audio, sr)) / 20)
    i = int(np.argmax(np.abs(quiet[:, 0])))
    width = max(8, sr // 400)
    quiet[i : i + width, :] = np.hanning(width)[: len(quiet[i : i + width]), None] * 10 ** (-2.5 / 20)
    return quiet * 10 ** ((-25 - integrated_loudness(quiet, sr)) / 20)


def main() -> None:
    data = clips()
    print(f"{len(data)} clips ({sum(a.shape[0] / sr for _, a, sr in data):.0f} s of speech)")
    rae = [relative_amplitude_error(a, f, apply_operation(a, sr, Operation("volume", {"factor": f})).audio)
           for _, a, sr in data for f in VOLUMES]
    rde = [relative_duration_error(a.shape[0], f, apply_operation(a, sr, Operation("speed", {"factor": f})).audio.shape[0])
           for _, a, sr in data for f in SPEEDS]
    pitch = np.array([_pitch_errors(a, sr, s) for _, a, sr in data for s in PITCHES])
    loud_err, peak_margin, exact_margin, quiet_plain = [], [], [], []
    for _, a, sr in data:
        for source in (a, _quiet(a, sr)):
            for lufs, ceiling in LOUDNESS:
                out = apply_operation(source, sr, Operation("loudness", {"lufs": lufs, "true_peak_db": ceiling})).audio
                loud_err.append(abs(integrated_loudness(out, sr) - lufs))
                peak_margin.append(true_peak_dbtp(out, sr) - ceiling)
                exact_margin.append(exact_peak_db(out) - ceiling)
        quiet_plain.append(true_peak_dbtp(_quiet(a, sr), sr) + 9.0)  # what a +9 dB plain gain gives
    print(f"volume    RAE mean {np.mean(rae) * 100:.2e} %   max {np.max(rae) * 100:.2e} %   (goal <= 0.5 %)")
    print(f"speed     RDE mean {np.mean(rde) * 100:.2e} %   max {np.max(rde) * 100:.2e} %   (goal <= 0.5 %)")
    print(f"pitch     |error| framewise median: mean {pitch[:, 0].mean():.3f} st, max {pitch[:, 0].max():.3f} st;"
          f" shift of medians: mean {pitch[:, 1].mean():.3f} st, max {pitch[:, 1].max():.3f} st   (goal <= 0.25)")
    print(f"loudness  |LUFS - target| mean {np.mean(loud_err):.3f} LU, max {np.max(loud_err):.3f} LU   (goal <= 0.5)")
    print(f"          true peak - ceiling: meter max {np.max(peak_margin):+.3f} dB,"
          f" exact max {np.max(exact_margin):+.3f} dB"
          f"   (goal <= 0); quiet sources with a plain +9 dB gain would peak at"
          f" {np.min(quiet_plain):+.1f}..{np.max(quiet_plain):+.1f} dBTP")
    if have_espeak():
        true_peak_report()


def true_peak_report(rates: tuple[int, ...] = TP_RATES) -> None:
    """Our meter against exact interpolation per sample rate, and limited output vs its ceiling."""
    print("true peak (espeak corpus; meter - exact, and exact - ceiling after -14 LUFS / -1.5 dBTP)")
    for sr in rates:
        speech = [audio[:, None] for _, audio in speech_corpus(sr)]
        error = [true_peak_dbtp(a, sr) - exact_peak_db(a) for a in speech]
        over, over_poly = [], []
        for a in speech:
            out = apply_operation(_quiet(a, sr), sr, Operation("loudness", {"lufs": -14.0, "true_peak_db": -1.5})).audio
            over.append(exact_peak_db(out) + 1.5)
            over_poly.append(20 * np.log10(np.abs(resample_poly(out, 32, 1, axis=0)).max()) + 1.5)
        print(f"  {sr:>5} Hz ({oversampling_factor(sr):>2}x):"
              f" meter - exact {np.min(error):+.3f}..{np.max(error):+.3f} dB; limited output - ceiling:"
              f" exact median {np.median(over):+.3f} max {np.max(over):+.3f} ({np.sum(np.array(over) > 0.05)}"
              f"/{len(over)} > +0.05, goal 0), resample_poly 32x max {np.max(over_poly):+.3f} dB"
              " (its filter's transition band straddles Nyquist, so it misreads content there)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--true-peak", action="store_true", help="only the true-peak section")
    parser.add_argument("--rates", type=int, nargs="+", default=list(TP_RATES))
    args = parser.parse_args()
    if args.true_peak:
        if not have_espeak():
            sys.exit("the true-peak section needs espeak-ng")
        true_peak_report(tuple(args.rates))
    else:
        main()
