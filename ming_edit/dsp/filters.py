"""Hum and rumble: mains-hum detection, hum notches and a Butterworth high-pass, numpy only.

Why not pedalboard: measured here (the same 2^16-frame 48 kHz stereo blocks, one core, best of
5), ``import pedalboard`` costs only ~7 ms over numpy, but four of its first-order
``HighpassFilter``s ran at ~970x real time and eight -40 dB ``PeakFilter`` cuts at ~370x, in
float32, with no true notch and no 4th-order Butterworth, while this module's exact float64
4th-order Butterworth ran at ~2100-2600x and eight true notches at ~1200-1400x; scipy.signal
stays off the path too (~2 s to import here). Figures on an hour: benchmarks/filter_speed.py.

Filters (exact, streamed, no lag): each filter is a rational H(z) with distinct poles, kept in
partial fractions (modal form): y[n] = D x[n] + Re sum_k c_k xi_k[n], xi_k[n+1] = lambda_k xi_k[n]
+ x[n], one complex state per conjugate pole pair (a real one per real pole); residues are
computed from pole offsets (from z = 1 for the high-pass), which keeps a 10 Hz high-pass at
384 kHz or a 3 Hz notch accurate. A block is filtered in sub-blocks of B frames by matrix
products: the zero-state output is a B x B lower-triangular Toeplitz product with the impulse
response, the states add a B x 2K product, and the states at every sub-block start come from a
scan of xi <- lambda^B xi + u (a 32 x 32 Toeplitz product per group of 32 sub-blocks, then a
log-depth scan over the groups). Nothing is truncated: any split into
blocks gives the whole-signal output to rounding (~1e-15), equal to scipy's sosfilt to ~1e-12,
and a narrow notch costs what a wide one does. Products are cut into pieces that OpenBLAS runs
on one thread (threaded small products measured several times slower on busy cores).

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
from typing import Iterable, Sequence

import numpy as np

from ming_edit.errors import AudioError, UsageError

MIN_RATE, MAX_RATE = 8000, 384000
MIN_CUTOFF_HZ = 10.0
MAX_CUTOFF_FRACTION = 0.45  # of the sample rate
MAX_ORDER = 8
DEFAULT_CUTOFF_HZ = 80.0
DEFAULT_ORDER = 4
DEFAULT_NOTCH_BANDWIDTH_HZ = 3.0
MIN_NOTCH_BANDWIDTH_HZ, MAX_NOTCH_BANDWIDTH_HZ = 0.5, 50.0
MAINS_HZ = (50.0, 60.0)
MAINS_DEVIATION_HZ = 0.5
MAX_HARMONICS = 8
CHUNK = 1 << 16  # frames per internal pass (bounds the temporaries)
SINGLE_THREAD_PRODUCT = 1 << 18  # OpenBLAS multithreads a product above M x N x K = 4 x 65536
SCAN_GROUP = 32  # sub-blocks per Toeplitz group of the state scan

# hum detection
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
# validation


def check_rate(sample_rate: int, what: str = "hum and rumble filters") -> None:
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise AudioError(f"{what} need a sample rate of {MIN_RATE}..{MAX_RATE} Hz, got {sample_rate} Hz")


def check_high_pass(cutoff_hz: float, order: int = DEFAULT_ORDER, sample_rate: int | None = None) -> None:
    """UsageError unless 10 Hz <= cutoff <= 0.45 x rate (21.6 kHz when the rate is not known
    yet) and 1 <= order <= 8."""
    if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or not 1 <= order <= MAX_ORDER:
        raise UsageError(f"high-pass order {order!r} is out of range (1..{MAX_ORDER})")
    try:
        cutoff_hz = float(cutoff_hz)
    except (TypeError, ValueError):
        raise UsageError(f"high-pass cutoff must be a number of Hz, got {cutoff_hz!r}") from None
    top = MAX_CUTOFF_FRACTION * (sample_rate if sample_rate else 48000)
    if not (math.isfinite(cutoff_hz) and MIN_CUTOFF_HZ <= cutoff_hz <= top):
        of = f"0.45 x the {sample_rate} Hz sample rate" if sample_rate else "0.45 x a 48 kHz rate"
        raise UsageError(f"high-pass cutoff {cutoff_hz:g} Hz is out of range ({MIN_CUTOFF_HZ:g}..{top:g} Hz, {of})")


def check_notches(frequencies: Sequence[float], bandwidths: Sequence[float], sample_rate: int) -> None:
    top = MAX_CUTOFF_FRACTION * sample_rate
    for f, bw in zip(frequencies, bandwidths):
        if not (math.isfinite(f) and 1.0 <= f <= top):
            raise UsageError(f"notch at {f:g} Hz is out of range (1..{top:g} Hz at {sample_rate} Hz)")
        if not (math.isfinite(bw) and MIN_NOTCH_BANDWIDTH_HZ <= bw <= min(MAX_NOTCH_BANDWIDTH_HZ, f)):
            raise UsageError(
                f"notch bandwidth {bw:g} Hz at {f:g} Hz is out of range "
                f"({MIN_NOTCH_BANDWIDTH_HZ:g}..{min(MAX_NOTCH_BANDWIDTH_HZ, f):g} Hz)"
            )
    pairs = sorted(zip(frequencies, bandwidths))
    for (f1, w1), (f2, w2) in zip(pairs, pairs[1:]):
        if f2 - f1 < max(w1, w2):
            raise UsageError(f"notches at {f1:g} and {f2:g} Hz overlap: keep them at least {max(w1, w2):g} Hz (their bandwidth) apart")


def _as_block(block: np.ndarray, channels: int) -> np.ndarray:
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[1] != channels:
        raise AudioError(f"expected a [frames, {channels}] block, got shape {block.shape}")
    return block.astype(np.float64, copy=False)


def _as_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] < 1:
        raise AudioError(f"audio must be [frames, channels], got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"audio must be floating point, got {audio.dtype}")
    if not np.isfinite(np.sum(audio)) and not np.isfinite(audio).all():
        raise AudioError("the audio contains NaN or infinite samples")
    return audio.astype(np.float64, copy=False)


# ---------------------------------------------------------------------------------------------
# designs (zeros, poles and gain of H(z) = gain * prod(z - zeros) / prod(z - poles))


def butterworth_high_pass_zpk(cutoff_hz: float, order: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Digital Butterworth high-pass (bilinear transform, cutoff pre-warped: -3 dB exactly at
    ``cutoff_hz``, like scipy.signal.butter(order, cutoff_hz, 'highpass', fs=sample_rate))."""
    zeros_m1, poles_m1, gain = _butterworth_offsets(cutoff_hz, order, sample_rate)
    return zeros_m1 + 1.0, poles_m1 + 1.0, gain


def _butterworth_offsets(cutoff_hz: float, order: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The same design as offsets from z = 1 (poles - 1 computed directly: accurate near z = 1)."""
    fs2 = 2.0 * sample_rate
    warped = fs2 * math.tan(math.pi * cutoff_hz / sample_rate)
    angles = math.pi * (2 * np.arange(order // 2) + 1) / (2 * order)
    proto = list(-np.sin(angles) + 1j * np.cos(angles))  # upper-half-plane prototype poles
    proto = proto + [np.conj(p) for p in proto] + ([-1.0 + 0j] if order % 2 else [])
    analog = warped / np.array(proto)  # low-pass -> high-pass
    poles_m1 = 2.0 * analog / (fs2 - analog)  # bilinear z = (fs2 + s) / (fs2 - s), minus 1
    if order % 2:
        poles_m1[-1] = poles_m1[-1].real
    gain = float(np.prod(np.abs(2.0 + poles_m1)) / 2.0**order)  # |H(-1)| = 1
    return np.zeros(order, complex), poles_m1, gain


def notch_zpk(frequencies: Sequence[float], bandwidths: Sequence[float], sample_rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Cascade of second-order notches (scipy.signal.iirnotch's design: zeros on the unit
    circle, -3 dB points ``bandwidth`` Hz apart)."""
    zeros, poles, gain = [], [], 1.0
    for f, bw in zip(frequencies, bandwidths):
        w0 = 2.0 * math.pi * f / sample_rate
        beta = math.tan(math.pi * bw / sample_rate)
        root = math.sqrt(max(math.sin(w0) ** 2 - beta**2, 0.0))
        p = complex(math.cos(w0), root) / (1.0 + beta)
        z = complex(math.cos(w0), math.sin(w0))
        zeros += [z, z.conjugate()]
        poles += [p, p.conjugate()]
        gain /= 1.0 + beta
    return np.array(zeros, complex), np.array(poles, complex), gain


def _modes(zeros: np.ndarray, poles: np.ndarray, gain: float, shift: float = 0.0) -> tuple[float, np.ndarray, np.ndarray]:
    """Partial fractions of gain * prod(z - zeros) / prod(z - poles) (as many zeros as poles,
    all distinct): (D, lambda, c) with H = D + sum Re-pairs. ``zeros``/``poles`` may be given as
    offsets from ``shift`` (residues only need differences; offsets keep them accurate)."""
    lam, coef = [], []
    for i, p in enumerate(poles):
        if p.imag < 0:
            continue
        rho = gain * np.prod(p - zeros) / np.prod(p - np.delete(poles, i))
        lam.append(p + shift)
        coef.append(rho.real if p.imag == 0 else 2.0 * rho)
    return float(gain), np.array(lam, complex), np.array(coef, complex)


# ---------------------------------------------------------------------------------------------
# the modal filter


def _matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """a @ b in row pieces small enough (M x N x K <= 2^18) that OpenBLAS runs each on one
    thread: threaded small products measured up to 8x slower here when the cores are busy."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    step = max(16, SINGLE_THREAD_PRODUCT // max(1, a.shape[1] * b.shape[1]))
    for i in range(0, a.shape[0], step):
        np.matmul(a[i : i + step], b, out=out[i : i + step])
    return out


def _sub_block(modes: int) -> int:
    """Frames per sub-block: the Toeplitz product costs B per frame, the scan ~K log(n) / B."""
    return 32 if modes <= 3 else 64


class ModalFilter:
    """A streaming IIR filter over [frames, channels] float64 blocks, with its state carried
    between calls: ``process`` returns as many frames as it is given, with no lag (``lag`` 0),
    and any split of a signal into blocks gives its whole-signal output to rounding."""

    lag = 0

    def __init__(self, sample_rate: int, channels: int, direct: float, lam: np.ndarray, coef: np.ndarray) -> None:
        if channels < 1:
            raise AudioError(f"a filter needs at least one channel, got {channels}")
        if np.any(np.abs(lam) >= 1.0):
            raise UsageError("the filter is unstable (a pole on or outside the unit circle)")
        self.sample_rate, self.channels = sample_rate, channels
        self.direct, self.lam, self.coef = direct, lam, coef
        modes = self.modes = len(lam)
        b = self.sub = _sub_block(modes)
        powers = lam[None, :] ** np.arange(b + 1)[:, None]  # lambda^i, i = 0..b
        self._powers = powers
        states_out = coef[None, :] * powers[:b]  # output of state k after i steps
        self._out = np.empty((b, 2 * modes))  # real form, columns (Re, Im) per mode
        self._out[:, 0::2], self._out[:, 1::2] = states_out.real, -states_out.imag
        self._gather = np.ascontiguousarray(powers[b - 1 :: -1].T)  # [K, b]: x_j -> state after b
        gather_real = np.empty((b, 2 * modes))
        gather_real[:, 0::2], gather_real[:, 1::2] = self._gather.T.real, self._gather.T.imag
        self._gather_real = gather_real
        h = np.empty(b)
        h[0] = direct
        h[1:] = (coef[None, :] * powers[: b - 1]).real.sum(axis=1) if modes else 0.0
        idx = np.arange(b)
        self._toeplitz = np.where(idx[:, None] >= idx[None, :], h[np.clip(idx[:, None] - idx[None, :], 0, b - 1)], 0.0)
        self._apply = np.ascontiguousarray(np.concatenate([self._toeplitz.T, self._out.T], axis=0))  # [b+2K, b]
        # the states at sub-block starts, s_j = sum_{i<=j} Lambda^(j-i) v_i (Lambda = lambda^b), in
        # groups of G: within a group a G x G Toeplitz product, across groups a short log-depth scan
        g = SCAN_GROUP
        big = powers[b][None, :] ** np.arange(g + 1)[:, None]  # [G+1, K]: Lambda^j
        lag_ = np.arange(g)[None, :] - np.arange(g)[:, None]  # [i, j] -> j - i
        local = np.where(lag_[None] >= 0, big[np.clip(lag_, 0, g)].transpose(2, 0, 1), 0)  # [K, i, j] complex
        # as real products on interleaved (Re, Im) pairs: [K, 2G, 2G]
        self._scan_local = np.empty((modes, 2 * g, 2 * g))
        self._scan_local[:, 0::2, 0::2], self._scan_local[:, 1::2, 1::2] = local.real, local.real
        self._scan_local[:, 0::2, 1::2], self._scan_local[:, 1::2, 0::2] = local.imag, -local.imag
        self._scan_next = np.ascontiguousarray(big[1:].T)  # [K, G]: Lambda^(j+1)
        self._scan_group = big[g]  # Lambda^G
        self._buffers: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.reset()

    def reset(self) -> None:
        """Back to silence (zero state), as before the first block."""
        self._state = np.zeros((self.modes, self.channels), complex)

    def finish(self) -> np.ndarray:
        """Nothing is held back (no lag): an empty [0, channels] block, for pipelines that ask."""
        return np.empty((0, self.channels))

    def response(self, frequencies_hz: Iterable[float]) -> np.ndarray:
        """H(e^{jw}) at the given frequencies (complex), from the modes."""
        z = np.exp(2j * np.pi * np.asarray(frequencies_hz, float) / self.sample_rate)
        h = np.full(z.shape, self.direct, complex)
        for lam, c in zip(self.lam, self.coef):
            term = c / (z - lam)
            h += term if lam.imag == 0 else 0.5 * (term + np.conj(c) / (z - np.conj(lam)))
        return h

    def process(self, block: np.ndarray) -> np.ndarray:
        x = _as_block(block, self.channels)
        if x.shape[0] <= CHUNK:
            return self._process(x)
        return np.concatenate([self._process(x[i : i + CHUNK]) for i in range(0, x.shape[0], CHUNK)])

    def _work(self, full: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._buffers is None or self._buffers[0] != full:
            k, ch, b = self.modes, self.channels, self.sub
            groups = -(-(full + 1) // SCAN_GROUP)
            self._buffers = (
                full,
                np.empty((ch, full, b + 2 * k)),
                np.zeros((k, ch, groups * SCAN_GROUP), complex),
                np.empty((k, ch * groups, SCAN_GROUP), complex),
            )
        return self._buffers[1:]

    def _scan(self, v: np.ndarray, out: np.ndarray) -> np.ndarray:
        """s_j = sum_{i<=j} Lambda^(j-i) v_i along the last axis of v [K, ch, groups x G]."""
        k, ch, size = v.shape
        g = SCAN_GROUP
        groups = size // g
        pairs, out_pairs = v.reshape(k, ch * groups, g).view(float), out.view(float)
        for m in range(k):  # real products, each small enough for one BLAS thread
            _matmul(pairs[m], self._scan_local[m], out=out_pairs[m])
        local = out.reshape(k, ch, groups, g)
        if groups > 1:
            ends = local[:, :, :, g - 1].copy()  # -> the state at the end of each group
            d, power = 1, self._scan_group[:, None, None]
            while d < groups:
                ends[:, :, d:] += ends[:, :, :-d] * power
                d, power = 2 * d, power * power
            local[:, :, 1:, :] += ends[:, :, :-1, None] * self._scan_next[:, None, None, :]
        return local.reshape(k, ch, size)

    def _process(self, x: np.ndarray) -> np.ndarray:
        n, ch = x.shape
        b, k = self.sub, self.modes
        full = n // b
        out = np.empty((n, ch))
        if full:
            xv, inputs, scan = self._work(full)
            for c in range(ch):
                xv[c, :, :b] = x[: full * b, c].reshape(full, b)
            rows = xv.reshape(ch * full, b + 2 * k)
            if k:
                u = _matmul(rows[:, :b], self._gather_real)  # [ch*full, 2K]: each sub-block's input -> states
                inputs[:, :, 0] = self._state  # v_0 = the carried state, v_j+1 = sub-block j's input
                inputs[:, :, 1 : full + 1] = u.view(complex).reshape(ch, full, k).transpose(2, 0, 1)
                states = self._scan(inputs, scan)  # [K, ch, >= full+1]: the state at each sub-block start
                xv[:, :, b:].view(complex)[...] = states[:, :, :full].transpose(1, 2, 0)
                self._state = states[:, :, full].copy()
            y = _matmul(rows, self._apply)  # [ch*full, b]: Toeplitz part + states' part
            for c in range(ch):
                out[: full * b, c] = y[c * full : (c + 1) * full].reshape(-1)
        r = n - full * b
        if r:
            xr = x[full * b :]
            s = self._state
            real = np.empty((2 * k, ch))
            real[0::2], real[1::2] = s.real, s.imag
            out[full * b :] = self._toeplitz[:r, :r] @ xr + self._out[:r] @ real
            self._state = s * self._powers[r][:, None] + self._gather[:, b - r :] @ xr
        return out


class HighPass(ModalFilter):
    """Butterworth high-pass (rumble): ``order`` poles, -3 dB at ``cutoff_hz``, 6 x order dB
    per octave below it."""

    def __init__(self, sample_rate: int, channels: int, cutoff_hz: float = DEFAULT_CUTOFF_HZ, order: int = DEFAULT_ORDER) -> None:
        check_rate(sample_rate)
        check_high_pass(cutoff_hz, order, sample_rate)
        self.cutoff_hz, self.order = float(cutoff_hz), int(order)
        super().__init__(sample_rate, channels, *_modes(*_butterworth_offsets(cutoff_hz, order, sample_rate), shift=1.0))


class NotchFilter(ModalFilter):
    """Narrow notches (hum): one second-order notch per frequency, -3 dB ``bandwidth_hz`` wide
    (one value for all or one per frequency), zero gain at the centre, unity far from it."""

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        frequencies: Sequence[float],
        bandwidth_hz: float | Sequence[float] = DEFAULT_NOTCH_BANDWIDTH_HZ,
    ) -> None:
        check_rate(sample_rate)
        freqs = [float(f) for f in frequencies]
        widths = [float(bandwidth_hz)] * len(freqs) if np.ndim(bandwidth_hz) == 0 else [float(w) for w in bandwidth_hz]
        if len(widths) != len(freqs):
            raise UsageError(f"{len(freqs)} notch frequencies but {len(widths)} bandwidths")
        check_notches(freqs, widths, sample_rate)
        self.frequencies, self.bandwidths = tuple(freqs), tuple(widths)
        super().__init__(sample_rate, channels, *_modes(*notch_zpk(freqs, widths, sample_rate)))


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
        parts = [self.partial] + ([head @ self.phases] if head is not None else []) + [_matmul(rows, self.phases)]
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
        x = _as_block(block, self.channels)
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
        whole = _as_audio(audio)
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
    audio = _as_audio(audio)
    check_rate(sample_rate)
    if estimate is None:
        estimate = detect_hum(audio, sample_rate)
    notch = hum_notch(estimate, sample_rate, audio.shape[1], bandwidth_hz)
    if notch is None:
        return audio, [hum_note(estimate, None)]
    return notch.process(audio), [hum_note(estimate, notch)]


def high_pass(
    audio: np.ndarray, sample_rate: int, cutoff_hz: float = DEFAULT_CUTOFF_HZ, order: int = DEFAULT_ORDER
) -> tuple[np.ndarray, list[str]]:
    """Butterworth high-pass (rumble removal)."""
    audio = _as_audio(audio)
    filt = HighPass(sample_rate, audio.shape[1], cutoff_hz, order)
    return filt.process(audio), [f"high-pass at {cutoff_hz:g} Hz ({order * 6} dB/octave Butterworth)"]
