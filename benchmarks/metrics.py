"""Measurements used to check the engine: SI-SDR, YIN fundamental frequency, RAE/RDE.

RAE and RDE follow the Ming-Freeform-Audio-Edit evaluation (eval_scripts/pyscripts/ana_vol.py,
ana_time_stretch.py): volume = mean |sample|, duration = frames / sample rate.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR in dB (both 1-D, same length; means removed)."""
    est = estimate - estimate.mean()
    ref = reference - reference.mean()
    alpha = np.dot(est, ref) / np.dot(ref, ref)
    target = alpha * ref
    residual = est - target
    return float(10.0 * np.log10(np.dot(target, target) / max(np.dot(residual, residual), 1e-300)))


def relative_amplitude_error(source: np.ndarray, requested_factor: float, output: np.ndarray) -> float:
    """|mean|out| - factor*mean|src|| / mean|src| (the benchmark's RAE for one file)."""
    vol = np.abs(source).mean()
    target = np.abs(source * requested_factor).mean()
    return float(abs(np.abs(output).mean() - target) / vol)


def relative_duration_error(source_frames: int, requested_factor: float, output_frames: int) -> float:
    """|dur_out - dur_src/factor| / dur_src (the benchmark's RDE for one file)."""
    target = source_frames / requested_factor
    return float(abs(output_frames - target) / source_frames)


def yin_f0(
    audio: np.ndarray,
    sample_rate: int,
    fmin: float = 60.0,
    fmax: float = 500.0,
    frame_s: float = 0.04,
    hop_s: float = 0.01,
    threshold: float = 0.15,
) -> np.ndarray:
    """Per-frame f0 in Hz by YIN (cumulative-mean-normalised difference, parabolic refinement);
    NaN where the frame is unvoiced or too quiet."""
    frame = int(frame_s * sample_rate)
    hop = int(hop_s * sample_rate)
    max_lag = int(sample_rate / fmin)
    min_lag = max(2, int(sample_rate / fmax))
    if len(audio) < frame + max_lag:
        return np.full(0, np.nan)
    windows = sliding_window_view(audio, frame + max_lag)[::hop]  # [frames, frame + max_lag]
    n_fft = 1 << int(np.ceil(np.log2(2 * (frame + max_lag))))
    spec = np.fft.rfft(windows, n_fft, axis=1)
    head = np.fft.rfft(windows[:, :frame], n_fft, axis=1)
    # r[t] = sum_j x[j] x[j+t] over the first `frame` samples x[j]
    r = np.fft.irfft(np.conj(head) * spec, n_fft, axis=1)[:, : max_lag + 1]
    sq = np.concatenate([np.zeros((len(windows), 1)), np.cumsum(windows**2, axis=1)], axis=1)
    energy0 = sq[:, frame][:, None]
    lags = np.arange(max_lag + 1)
    energy_t = sq[:, lags + frame] - sq[:, lags]
    diff = energy0 + energy_t - 2.0 * r
    cum = np.cumsum(diff[:, 1:], axis=1) / np.arange(1, max_lag + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(cum, 1e-12)
    loud = energy0[:, 0] > 1e-4 * frame * np.mean(audio**2)
    f0 = np.full(len(windows), np.nan)
    for i in np.flatnonzero(loud):
        row = cmnd[i]
        below = np.flatnonzero(row[min_lag:max_lag] < threshold)
        if len(below) == 0:
            continue
        t = min_lag + below[0]
        while t + 1 < max_lag and row[t + 1] < row[t]:
            t += 1
        a, b, c = row[t - 1], row[t], row[t + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom > 0 else 0.0
        f0[i] = sample_rate / (t + shift)
    return f0


def median_f0(audio: np.ndarray, sample_rate: int) -> float:
    f0 = yin_f0(audio, sample_rate)
    voiced = f0[np.isfinite(f0)]
    return float(np.median(voiced)) if len(voiced) else float("nan")
