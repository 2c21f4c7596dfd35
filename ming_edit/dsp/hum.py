"""Mains hum: a streaming detector (50 or 60 Hz and its harmonics) and their notches
(dsp/filters.NotchFilter).

Hum detection (HumDetector, a first pass over blocks, constant memory): the channel mean is
decimated to ~2 kHz (polyphase windowed-sinc FIR, 12 taps per phase) and two spectra are kept:
* background: 1 s Hann frames (hop 0.5 s, 0.5 Hz bins); per 8.5 s (16 frames, hop 4 s) the 20 %
  quantile of each bin over its frames, i.e. what is there in the pauses and between the moving
  speech harmonics; averaged in log power over the recording. Hum is in every frame, so it
  stands over the room tone here even where speech covers it; speech harmonics do not.
* fine: 8 s Hann segments (hop 4 s, 2x zero padding: 0.06 Hz bins), mean power and mean log
  power: each line's precise frequency and its narrowness.
For 50 and 60 Hz (+-0.5 Hz), harmonic k <= 8 is looked for within k x +-0.5 Hz of the background
spectrum: a line stands >= 6 dB over the median of its 2.5..8 Hz surroundings. A fit needs a seed
line >= 10 dB that is also narrow and steady in the fine spectrum (geometric-mean peak >= 6 dB
over 1..6 Hz around it, -6 dB width <= 0.4 Hz + 0.06 Hz x k: the window's main lobe plus some
drift; moving speech harmonics are several Hz wide there), and either a second line at a
consistent harmonic or a seed >= 15 dB. The fundamental is the weighted least-squares fit of the
narrow lines' interpolated frequencies (~0.001 Hz on 2 minutes of speech with -30 dB hum), every
consistent background line is a harmonic to notch, and the mains frequency with the larger summed
prominence wins. Notches are 3 Hz wide (-3 dB), wider (4x the measured line width) for a line
that drifts; a 3 Hz notch settles in ~1/(pi x 3 Hz) ~ 0.1 s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ming_edit.dsp.filters import (
    CHUNK, DEFAULT_NOTCH_BANDWIDTH_HZ, MAX_CUTOFF_FRACTION, MAX_NOTCH_BANDWIDTH_HZ, NotchFilter, as_audio,
    check_rate, single_thread_matmul,
)
from ming_edit.dsp.frames import as_block
from ming_edit.errors import AudioError

MAINS_HZ = (50.0, 60.0)
MAINS_DEVIATION_HZ = 0.5
MAX_HARMONICS = 8
ANALYSIS_RATE = 2000  # the channel mean is decimated to ANALYSIS_RATE..2 x ANALYSIS_RATE Hz
DECIMATOR_TAPS_PER_PHASE = 12
SEGMENT_S = 8.0  # fine spectrum: 8 s segments
FRAME_S = 1.0  # background spectrum: 1 s frames ...
BACKGROUND_FRAMES = 16  # ... 16 of them (8.5 s) per quantile
BACKGROUND_QUANTILE = 0.2
MAX_ANALYSIS_HZ = 520.0
LINE_DB = 6.0  # a harmonic counts when it stands this far over its surroundings (background)
SEED_DB = 10.0  # the line that anchors the fit
SINGLE_LINE_DB = 15.0  # one line alone must stand this high
BACKGROUND_CONTEXT_HZ = (2.5, 8.0)  # surroundings in the background spectrum
FINE_LINE_DB = 6.0  # a line in the fine spectrum (geometric mean) over its surroundings
FLOOR_CONTEXT_HZ = (1.0, 6.0)  # surroundings in the fine spectrum: 1..6 Hz either side
LINE_WIDTH_HZ = (0.4, 0.06)  # narrow: -6 dB width <= a + b x harmonic number
NOTCH_WIDTH_FACTOR = 4.0  # notch bandwidth >= this x the measured line width
_LOG_TINY = 1e-30


# ---------------------------------------------------------------------------------------------
# hum detection


@dataclass(frozen=True)
class HumEstimate:
    """What HumDetector found. ``fundamental_hz`` None: no mains hum (``reason`` says why)."""

    fundamental_hz: float | None = None
    mains_hz: int | None = None
    harmonics: tuple[int, ...] = ()  # harmonic numbers found (1 = the fundamental)
    prominence_db: tuple[float, ...] = ()  # each one's height over its surroundings
    widths_hz: tuple[float, ...] = ()  # each line's -6 dB width in the averaged spectrum
    seconds: float = 0.0  # audio measured
    reason: str = ""
    candidates: dict = field(default_factory=dict, compare=False, repr=False)  # mains -> score (diagnostics)

    @property
    def found(self) -> bool:
        return self.fundamental_hz is not None and bool(self.harmonics)

    @property
    def frequencies(self) -> tuple[float, ...]:
        f0 = self.fundamental_hz or 0.0
        return tuple(k * f0 for k in self.harmonics)

    def notch_bandwidths(self, minimum_hz: float = DEFAULT_NOTCH_BANDWIDTH_HZ) -> tuple[float, ...]:
        """Per-harmonic notch width: at least ``minimum_hz``, wider for a line that drifts."""
        return tuple(
            min(max(minimum_hz, NOTCH_WIDTH_FACTOR * w), MAX_NOTCH_BANDWIDTH_HZ, f)
            for w, f in zip(self.widths_hz, self.frequencies)
        )

    def describe(self) -> str:
        if not self.found:
            return f"no mains hum found ({self.reason})" if self.reason else "no mains hum found"
        return f"hum at {self.fundamental_hz:.2f} Hz ({self.mains_hz} Hz mains), harmonics {', '.join(map(str, self.harmonics))}"


def _design_decimator(sample_rate: int) -> tuple[int, np.ndarray]:
    """(factor, [factor, taps-per-phase] polyphase matrix) of a Blackman windowed-sinc
    low-pass at half the output rate."""
    factor = max(1, sample_rate // ANALYSIS_RATE)
    taps = DECIMATOR_TAPS_PER_PHASE * factor
    t = np.arange(taps) - (taps - 1) / 2.0
    h = np.sinc(t / factor) * np.blackman(taps)
    h /= h.sum()
    # y[m] = sum_q rows[m - q] . phases[:, q], rows[r] = x[r*D : (r+1)*D]
    phases = h.reshape(DECIMATOR_TAPS_PER_PHASE, factor)[:, ::-1].T
    return factor, np.ascontiguousarray(phases)


class _Decimator:
    """Streaming polyphase FIR decimation of a 1-D signal by an integer factor."""

    def __init__(self, sample_rate: int) -> None:
        self.factor, self.phases = _design_decimator(sample_rate)
        self.rate = sample_rate / self.factor
        taps = self.phases.shape[1]
        self.partial = np.zeros((taps - 1, taps))  # the last rows' products with the phases
        self.left = np.empty(0)  # samples of an incomplete row

    def feed(self, x: np.ndarray) -> np.ndarray:
        d, taps = self.factor, self.phases.shape[1]
        head = None
        if len(self.left):
            need = d - len(self.left)
            if len(x) < need:
                self.left = np.concatenate([self.left, x])
                return np.empty(0)
            head, x = np.concatenate([self.left, x[:need]])[None, :], x[need:]
        n = len(x) // d
        rows = x[: n * d].reshape(n, d)
        self.left = x[n * d :].copy()
        parts = [self.partial] + ([head @ self.phases] if head is not None else []) + [single_thread_matmul(rows, self.phases)]
        partial = np.concatenate(parts)  # [taps-1+rows, taps]
        count = len(partial) - (taps - 1)
        y = partial[taps - 1 :, 0].copy()
        for j in range(1, taps):
            y += partial[taps - 1 - j : taps - 1 - j + count, j]
        self.partial = partial[count:]
        return y


class _Windows:
    """Collects a 1-D stream and hands out windows of ``length`` samples every ``hop``."""

    def __init__(self, length: int, hop: int) -> None:
        self.length, self.hop = length, hop
        self.pending = np.empty(0)

    def feed(self, y: np.ndarray) -> np.ndarray:
        """The complete windows, [count, length] (count may be 0)."""
        if len(y):
            self.pending = np.concatenate([self.pending, y])
        if len(self.pending) < self.length:
            return np.empty((0, self.length))
        count = (len(self.pending) - self.length) // self.hop + 1
        windows = np.lib.stride_tricks.sliding_window_view(self.pending, self.length)[:: self.hop][:count].copy()
        self.pending = self.pending[count * self.hop :]
        return windows


class HumDetector:
    """First pass for hum removal: feed [frames, channels] blocks in order, then ``result()``.

    Two spectra of the decimated channel mean, both kept as sums (constant memory):
    * background: 1 s Hann frames (hop 0.5 s, 0.5 Hz bins); per 8.5 s (16 frames, hop 4 s) the
      20 % quantile of each bin over the frames, i.e. what is there in the pauses and between
      the moving speech harmonics; averaged in log power over the recording. A hum line is in
      every frame, so it stands over the room tone here even where speech covers it.
    * fine: 8 s Hann segments (hop 4 s, 0.06 Hz bins), mean power and mean log power: the
      precise frequency and the narrowness of each line.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        check_rate(sample_rate)
        if channels < 1:
            raise AudioError(f"hum detection needs at least one channel, got {channels}")
        self.sample_rate, self.channels = sample_rate, channels
        self._decimator = _Decimator(sample_rate)
        rate = self.rate = self._decimator.rate
        self.frames = 0
        # fine spectrum
        seg = int(round(SEGMENT_S * rate))
        self._fine = _Windows(seg, seg // 2)
        self.fine_nfft = 1 << int(math.ceil(math.log2(2 * seg)))
        self.fine_hz = rate / self.fine_nfft
        self.fine_bins = int(MAX_ANALYSIS_HZ / self.fine_hz) + 2
        self._fine_window = np.hanning(seg)
        self._fine_power = np.zeros(self.fine_bins)
        self._fine_log = np.zeros(self.fine_bins)
        self.fine_segments = 0
        # background spectrum
        frame = int(round(FRAME_S * rate))
        self._frames = _Windows(frame, frame // 2)
        self.frame_nfft = 1 << int(math.ceil(math.log2(2 * frame)))
        self.frame_hz = rate / self.frame_nfft
        self.frame_bins = int(MAX_ANALYSIS_HZ / self.frame_hz) + 2
        self._frame_window = np.hanning(frame)
        self._recent: list[np.ndarray] = []  # the last BACKGROUND_FRAMES frame spectra
        self._since = 0  # frames since the last background segment
        self._background_log = np.zeros(self.frame_bins)
        self.background_segments = 0

    def feed(self, block: np.ndarray) -> None:
        x = as_block(block, self.channels, "hum detection")
        self.frames += x.shape[0]
        mono = x[:, 0].copy()  # the channel mean (a BLAS gemv here would go multithreaded)
        for c in range(1, self.channels):
            mono += x[:, c]
        if self.channels > 1:
            mono *= 1.0 / self.channels
        y = self._decimator.feed(mono)
        for seg in self._fine.feed(y):
            self._add_fine(seg, self._fine_window)
        frames = self._frames.feed(y)
        spectra = self._power(frames, self._frame_window, self.frame_nfft, self.frame_bins) if len(frames) else frames
        for power in spectra:
            self._recent.append(power)
            self._recent = self._recent[-BACKGROUND_FRAMES:]
            self._since += 1
            if len(self._recent) == BACKGROUND_FRAMES and (self.background_segments == 0 or self._since >= BACKGROUND_FRAMES // 2):
                self._add_background(self._recent)

    @staticmethod
    def _power(x: np.ndarray, window: np.ndarray, nfft: int, bins: int) -> np.ndarray:
        """Power spectra (up to ``bins``) of the mean-removed, windowed rows of ``x``."""
        spectrum = np.fft.rfft((x - x.mean(axis=-1, keepdims=True)) * window, nfft, axis=-1)[..., :bins]
        return spectrum.real**2 + spectrum.imag**2

    def _add_fine(self, seg: np.ndarray, window: np.ndarray) -> None:
        power = self._power(seg, window, self.fine_nfft, self.fine_bins)
        self._fine_power += power
        self._fine_log += np.log(power + _LOG_TINY)
        self.fine_segments += 1

    def _add_background(self, frames: list[np.ndarray]) -> None:
        self._background_log += np.log(np.quantile(np.array(frames), BACKGROUND_QUANTILE, axis=0) + _LOG_TINY)
        self.background_segments += 1
        self._since = 0

    def _spectra(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(background dB, fine mean dB, fine geometric-mean dB), the tails of short clips
        included; None when too short."""
        to_db = 10.0 / math.log(10.0)
        if self.background_segments:
            background = self._background_log / self.background_segments
        elif len(self._recent) >= 3:
            background = np.log(np.quantile(np.array(self._recent), BACKGROUND_QUANTILE, axis=0) + _LOG_TINY)
        else:
            return None
        if self.fine_segments:
            power, log, count = self._fine_power, self._fine_log, self.fine_segments
        else:
            pending = self._fine.pending
            power = self._power(pending, np.hanning(len(pending)), self.fine_nfft, self.fine_bins)
            log, count = np.log(power + _LOG_TINY), 1
        return to_db * background, 10.0 * np.log10(power / count + _LOG_TINY), to_db * log / count

    def result(self) -> HumEstimate:
        seconds = self.frames / self.sample_rate
        spectra = self._spectra()
        if spectra is None:
            return HumEstimate(seconds=seconds, reason=f"{seconds:.2f} s is too short to measure hum")
        top_hz = min(MAX_CUTOFF_FRACTION * self.sample_rate, MAX_ANALYSIS_HZ - FLOOR_CONTEXT_HZ[1] - 1.0)
        best, scores = None, {}
        for mains in MAINS_HZ:
            est = self._fit(mains, *spectra, top_hz, seconds)
            scores[int(mains)] = round(sum(est.prominence_db), 2) if est is not None else 0.0
            if est is not None and (best is None or sum(est.prominence_db) > sum(best.prominence_db)):
                best = est
        if best is None:
            return HumEstimate(seconds=seconds, reason="no steady narrow line at 50 or 60 Hz or their harmonics", candidates=scores)
        return HumEstimate(best.fundamental_hz, best.mains_hz, best.harmonics, best.prominence_db, best.widths_hz, seconds, "", scores)

    @staticmethod
    def _peak(spectrum: np.ndarray, bin_hz: float, lo_hz: float, hi_hz: float, near_hz: float, far_hz: float):
        """(bin, prominence dB over the median of near..far Hz either side) of the highest
        bin of ``spectrum`` in [lo, hi] Hz."""
        lo = max(1, int(math.ceil(lo_hz / bin_hz)))
        hi = min(len(spectrum) - 2, int(math.floor(hi_hz / bin_hz)))
        if hi < lo:
            return None
        k = lo + int(np.argmax(spectrum[lo : hi + 1]))
        near, far = int(round(near_hz / bin_hz)), int(round(far_hz / bin_hz))
        around = np.concatenate([spectrum[max(0, k - far) : max(0, k - near)], spectrum[k + near + 1 : k + far + 1]])
        return (k, float(spectrum[k] - np.median(around))) if len(around) else None

    def _fine_line(self, f_hz: float, harmonic: int, mean_db: np.ndarray, geo_db: np.ndarray):
        """(frequency, width) of a narrow line near ``f_hz`` in the fine spectrum, or None."""
        bin_hz = self.fine_hz
        peak = self._peak(geo_db, bin_hz, f_hz - self.frame_hz, f_hz + self.frame_hz, *FLOOR_CONTEXT_HZ)
        if peak is None or peak[1] < FINE_LINE_DB:
            return None
        k = peak[0]
        level, far = mean_db[k] - 6.0, int(FLOOR_CONTEXT_HZ[1] / bin_hz)
        left = k
        while left > 0 and mean_db[left - 1] >= level and k - left < far:
            left -= 1
        right = k
        while right < len(mean_db) - 1 and mean_db[right + 1] >= level and right - k < far:
            right += 1
        width = (right - left + 1) * bin_hz
        if width > LINE_WIDTH_HZ[0] + LINE_WIDTH_HZ[1] * harmonic:
            return None
        a, b, c = mean_db[k - 1], mean_db[k], mean_db[k + 1]
        denom = a - 2.0 * b + c
        offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)) if denom < 0 else 0.0
        return (k + offset) * bin_hz, width

    def _fit(self, mains: float, background_db, mean_db, geo_db, top_hz: float, seconds: float) -> HumEstimate | None:
        dev, bin_hz = MAINS_DEVIATION_HZ, self.frame_hz
        lines = {}  # harmonic -> (frequency in the background spectrum, prominence)
        for h in range(1, MAX_HARMONICS + 1):
            if h * (mains + dev) > top_hz:
                break
            peak = self._peak(background_db, bin_hz, h * (mains - dev), h * (mains + dev), *BACKGROUND_CONTEXT_HZ)
            if peak is not None and peak[1] >= LINE_DB:
                k = peak[0]
                a, b, c = background_db[k - 1], background_db[k], background_db[k + 1]
                denom = a - 2.0 * b + c
                offset = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5)) if denom < 0 else 0.0
                lines[h] = ((k + offset) * bin_hz, peak[1])
        # seeds, strongest first: a line that is also narrow and steady in the fine spectrum
        for seed in sorted(lines, key=lambda h: -lines[h][1]):
            if lines[seed][1] < SEED_DB:
                break
            fine = self._fine_line(lines[seed][0], seed, mean_db, geo_db)
            if fine is None:
                continue
            f0 = fine[0] / seed
            keep = {h: v for h, v in lines.items() if abs(v[0] - h * f0) <= 0.5 * bin_hz + 0.02 * h}
            exact = {h: self._fine_line(h * f0, h, mean_db, geo_db) for h in keep}
            exact = {h: v for h, v in exact.items() if v is not None and abs(v[0] - h * f0) <= 0.5 * bin_hz + 0.02 * h}
            if not exact or len(keep) < 2 and lines[seed][1] < SINGLE_LINE_DB:
                continue  # one line alone must be strong to count as hum
            weights = {h: min(10.0 ** (lines[h][1] / 10.0), 1e4) for h in exact}
            f0 = sum(weights[h] * h * exact[h][0] for h in exact) / sum(weights[h] * h * h for h in exact)
            if abs(f0 - mains) > dev:
                continue
            hs = tuple(sorted(keep))
            return HumEstimate(
                fundamental_hz=float(f0),
                mains_hz=int(mains),
                harmonics=hs,
                prominence_db=tuple(round(lines[h][1], 2) for h in hs),
                widths_hz=tuple(round(exact[h][1], 4) if h in exact else 0.0 for h in hs),
                seconds=seconds,
            )
        return None


def detect_hum(audio: np.ndarray | Iterable[np.ndarray], sample_rate: int) -> HumEstimate:
    """HumDetector over a whole [frames, channels] array, or over an iterable of such blocks."""
    if isinstance(audio, np.ndarray):
        whole = as_audio(audio)
        audio = (whole[i : i + CHUNK] for i in range(0, max(whole.shape[0], 1), CHUNK))
    detector = None
    for block in audio:
        block = np.asarray(block)
        if detector is None:
            detector = HumDetector(sample_rate, block.shape[1] if block.ndim == 2 else 1)
        detector.feed(block)
    if detector is None:
        check_rate(sample_rate)
        return HumEstimate(reason="no audio")
    return detector.result()


# ---------------------------------------------------------------------------------------------
# whole-array operations


def hum_notch(estimate: HumEstimate, sample_rate: int, channels: int, bandwidth_hz: float | None = None) -> NotchFilter | None:
    """The NotchFilter for a detection (None when there is no hum or no harmonic is below
    0.45 x rate)."""
    if not estimate.found:
        return None
    minimum = DEFAULT_NOTCH_BANDWIDTH_HZ if bandwidth_hz is None else bandwidth_hz
    pairs = [(f, w) for f, w in zip(estimate.frequencies, estimate.notch_bandwidths(minimum)) if f <= MAX_CUTOFF_FRACTION * sample_rate]
    if not pairs:
        return None
    return NotchFilter(sample_rate, channels, [f for f, _ in pairs], [w for _, w in pairs])


def hum_note(estimate: HumEstimate, notch: NotchFilter | None) -> str:
    if notch is None:
        return f"{estimate.describe()}: nothing changed"
    count = len(notch.frequencies)
    return f"hum at {estimate.fundamental_hz:.2f} Hz: {count} harmonic{'s' if count != 1 else ''} notched"


def remove_hum(
    audio: np.ndarray, sample_rate: int, estimate: HumEstimate | None = None, bandwidth_hz: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """Detect mains hum (unless ``estimate`` is given) and notch its harmonics."""
    audio = as_audio(audio)
    check_rate(sample_rate)
    if estimate is None:
        estimate = detect_hum(audio, sample_rate)
    notch = hum_notch(estimate, sample_rate, audio.shape[1], bandwidth_hz)
    if notch is None:
        return audio, [hum_note(estimate, None)]
    return notch.process(audio), [hum_note(estimate, notch)]
