"""Stationary background-noise removal: MMSE log-spectral amplitude estimation.

Per channel, in the STFT domain (Hann, ~32 ms frames, 75 % overlap):
* noise PSD: started from a per-bin low quantile of the periodogram over the whole clip
  (bias-corrected for the exponential distribution of noise periodogram bins), then tracked
  frame by frame with the speech-presence-probability MMSE estimator of Gerkmann & Hendriks
  (IEEE TASLP 2012), which follows slow changes without swallowing speech;
* a-priori SNR: decision-directed (Ephraim & Malah 1984) with a floor against musical noise;
* gain: MMSE-LSA (Ephraim & Malah 1985), G = xi/(1+xi) * exp(E1(v)/2), floored.
The frame recursion is sequential by nature; each step is a handful of vector operations over
frequency bins.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import istft, stft
from scipy.special import exp1

FRAME_S = 0.032
DD_ALPHA = 0.98  # decision-directed smoothing
XI_MIN = 10.0 ** (-25.0 / 10.0)  # a-priori SNR floor
GAIN_FLOOR = 10.0 ** (-25.0 / 20.0)  # max attenuation
NOISE_QUANTILE = 0.1  # initial noise PSD: this quantile of each bin, divided by -ln(1 - q)
SPP_XI_H1 = 10.0 ** (15.0 / 10.0)  # typical a-priori SNR when speech is present
SPP_PRIOR_H1 = 0.5
SPP_SMOOTH = 0.9  # smoothing of the speech presence probability (stagnation guard)
NOISE_SMOOTH = 0.8  # smoothing of the noise PSD update
_GAMMA_CAP = 1e6  # keep exp1/exp arguments in range on digital silence


def _frame_length(sample_rate: int) -> int:
    return int(2 ** round(np.log2(FRAME_S * sample_rate)))


def _initial_noise(power: np.ndarray) -> np.ndarray:
    quantile = np.quantile(power, NOISE_QUANTILE, axis=1)
    return quantile / -np.log1p(-NOISE_QUANTILE)


def _gains(power: np.ndarray) -> np.ndarray:
    """LSA gains [bins, frames] for a periodogram [bins, frames]."""
    bins, frames = power.shape
    floor = max(1e-10 * float(power.mean()), 1e-30)
    noise = np.maximum(_initial_noise(power), floor)
    gains = np.empty_like(power)
    h1_ratio = SPP_XI_H1 / (1.0 + SPP_XI_H1)
    prior_odds = (1.0 - SPP_PRIOR_H1) / SPP_PRIOR_H1 * (1.0 + SPP_XI_H1)
    spp_smooth = np.zeros(bins)
    prev_clean = np.zeros(bins)  # |A(l-1)|^2 / noise(l-1)
    for t in range(frames):
        p = power[:, t]
        # speech presence probability with a fixed a-priori SNR, then the MMSE noise update
        post = np.minimum(p / noise, _GAMMA_CAP)
        spp = 1.0 / (1.0 + prior_odds * np.exp(-post * h1_ratio))
        spp_smooth = SPP_SMOOTH * spp_smooth + (1.0 - SPP_SMOOTH) * spp
        spp = np.where(spp_smooth > 0.99, np.minimum(spp, 0.99), spp)
        expected_noise = (1.0 - spp) * p + spp * noise
        noise = np.maximum(NOISE_SMOOTH * noise + (1.0 - NOISE_SMOOTH) * expected_noise, floor)
        # decision-directed a-priori SNR and the log-spectral amplitude gain
        gamma = np.minimum(p / noise, _GAMMA_CAP)
        xi = np.maximum(DD_ALPHA * prev_clean + (1.0 - DD_ALPHA) * np.maximum(gamma - 1.0, 0.0), XI_MIN)
        v = np.maximum(xi * gamma / (1.0 + xi), 1e-10)
        gain = np.minimum(xi / (1.0 + xi) * np.exp(0.5 * exp1(v)), 1.0)
        gain = np.maximum(gain, GAIN_FLOOR)
        gains[:, t] = gain
        prev_clean = gain * gain * gamma
    return gains


def denoise(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Remove stationary background noise from audio [frames, channels]; same shape out."""
    frames = audio.shape[0]
    nperseg = _frame_length(sample_rate)
    if frames < nperseg:
        return audio.copy()
    out = np.empty_like(audio)
    for ch in range(audio.shape[1]):
        _, _, spec = stft(audio[:, ch], window="hann", nperseg=nperseg, noverlap=3 * nperseg // 4)
        gains = _gains(spec.real**2 + spec.imag**2)
        _, clean = istft(spec * gains, window="hann", nperseg=nperseg, noverlap=3 * nperseg // 4)
        out[:, ch] = clean[:frames]
    return out
