"""Dispatch of plan operations to the DSP engine, with argument validation.

Accepted ranges (UsageError outside them):
  volume{factor}            0 < factor <= 100 (+40 dB); output = factor * input exactly
  loudness{lufs, true_peak_db}  -70 <= lufs <= 0 (default -16), -20 <= true_peak_db <= 0 (default -1)
  peak{peak_db, true_peak}  -60 <= peak_db <= 0; one gain to that sample peak (dBFS) or true peak
                            (dBTP, true_peak=True, needs >= 4 kHz); silence is refused (AudioError)
  speed{factor}             0.25 <= factor <= 4 (tempo; 2 = twice as fast, pitch kept)
  speed{duration}           0 < duration <= 24 h: the factor that makes the audio last that long
  channels{channels}, resample{sample_rate}, convert{}: format steps, done by the pipeline
                            (ranges of dsp/convert.py: 1..32 channels, 8000..384000 Hz)
  pitch{semitones}          -24 <= semitones <= 24 (duration kept)
  denoise{gentle, method}   method classic (MMSE-LSA, the default here) or deepfilter (DeepFilterNet3;
                            the pipelines pick it for --denoiser auto when installed); gentle: at most
                            GENTLE_LIMIT_DB of attenuation
  cut / keep{start, end | first | last}  seconds, 0 <= start < end (end None: to the end); the
                            recording's own length is checked when it is read (AudioError)
  pad{start, end}           0..3600 s of silence each
  trim{start, end}          which ends lose their silence (booleans)
  pauses{longer_than, to}   0.1 <= longer_than <= 60 s, 0 <= to < longer_than
  fade{in, out}             0..3600 s each, not both 0
  level{}, compress{}       the leveler and the speech compressor of dsp/dynamics.py
  highpass{cutoff_hz}       10 Hz .. 0.45 x rate, 4th-order Butterworth (rumble); hum{}: mains hum
                            detected (50/60 Hz) and its harmonics notched (dsp/filters.py, dsp/hum.py)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ming_edit.errors import AudioError, UsageError
from ming_edit.dsp.frames import ArrayReader, FrameReader
from ming_edit.ops.operation import DEFAULT_LUFS, DEFAULT_TRUE_PEAK, DSP_OPS, DYNAMICS_OPS, FORMAT_OPS, TIME_OPS, Operation

VOLUME_MAX = 100.0
LUFS_RANGE = (-70.0, 0.0)
TRUE_PEAK_RANGE = (-20.0, 0.0)
SPEED_RANGE = (0.25, 4.0)
PITCH_RANGE = (-24.0, 24.0)
PEAK_RANGE = (-60.0, 0.0)
MIN_LOUDNESS_RATE = 4000  # the K-weighting shelf sits at 1.5 kHz
GENTLE_LIMIT_DB = 12.0  # "denoise gently": noise attenuated by at most this


@dataclass
class DspResult:
    audio: np.ndarray  # float64 [frames, channels], same sample rate as the input
    notes: list[str] = field(default_factory=list)


def number_arg(op: Operation, name: str, default: float | None = None) -> float:
    value: Any = op.args.get(name, default)
    if value is None:
        raise UsageError(f"{op.op} needs a '{name}' argument")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{op.op} {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise UsageError(f"{op.op} {name} must be finite, got {value!r}")
    return number


def _check_range(op: Operation, name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise UsageError(f"{op.op} {name} {value:g} is out of range [{lo:g}, {hi:g}]")


def validate_operation(op: Operation) -> None:
    """Raise UsageError unless ``op`` is a DSP operation with in-range arguments."""
    if op.op not in DSP_OPS:
        raise UsageError(f"'{op.op}' is not a DSP operation (DSP operations: {', '.join(DSP_OPS)})")
    if op.op == "volume":
        factor = number_arg(op, "factor")
        if not 0.0 < factor <= VOLUME_MAX:
            raise UsageError(f"volume factor {factor:g} is out of range (0, {VOLUME_MAX:g}] (+40 dB)")
    elif op.op == "loudness":
        _check_range(op, "lufs", number_arg(op, "lufs", DEFAULT_LUFS), *LUFS_RANGE)
        _check_range(op, "true_peak_db", number_arg(op, "true_peak_db", DEFAULT_TRUE_PEAK), *TRUE_PEAK_RANGE)
    elif op.op == "peak":
        _check_range(op, "peak_db", number_arg(op, "peak_db"), *PEAK_RANGE)
        if not isinstance(op.args.get("true_peak", False), bool):
            raise UsageError(f"peak true_peak must be true or false, got {op.args['true_peak']!r}")
    elif op.op == "speed" and "duration" in op.args:
        _check_range(op, "duration", number_arg(op, "duration"), 1e-3, 86400.0)
    elif op.op == "speed":
        _check_range(op, "factor", number_arg(op, "factor"), *SPEED_RANGE)
    elif op.op in FORMAT_OPS:
        from ming_edit.dsp.convert import validate_conversion

        validate_conversion(op.args.get("sample_rate"), op.args.get("channels"))
    elif op.op == "pitch":
        _check_range(op, "semitones", number_arg(op, "semitones"), *PITCH_RANGE)
    elif op.op in TIME_OPS:
        _validate_time(op)
    elif op.op == "highpass":
        from ming_edit.dsp.filters import check_high_pass

        check_high_pass(number_arg(op, "cutoff_hz"))
    elif op.op == "denoise":
        if op.args.get("method", "classic") not in ("classic", "deepfilter"):
            raise UsageError(f"denoise method must be classic or deepfilter, got {op.args['method']!r}")
        if not isinstance(op.args.get("gentle", False), bool):
            raise UsageError(f"denoise gentle must be true or false, got {op.args['gentle']!r}")


def _check_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    if audio.ndim != 2 or audio.shape[1] < 1:
        raise AudioError(f"audio must be [frames, channels], got shape {audio.shape}")
    if audio.shape[0] == 0:
        raise AudioError("the audio is empty")
    if sample_rate <= 0:
        raise AudioError(f"invalid sample rate {sample_rate}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"audio must be floating point, got {audio.dtype}")
    # a sum is ~10x cheaper than isfinite() on an hour and NaN/inf always propagate into it
    if not np.isfinite(np.sum(audio)) and not np.isfinite(audio).all():
        raise AudioError("the audio contains NaN or infinite samples")
    return audio.astype(np.float64, copy=False)


def _validate_time(op: Operation) -> None:
    a = op.args
    if op.op in ("cut", "keep"):
        for key in ("first", "last"):
            if key in a:
                _check_range(op, key, number_arg(op, key), 1e-3, 86400.0)
                return
        start = number_arg(op, "start", 0.0)
        _check_range(op, "start", start, 0.0, 86400.0)
        if a.get("end") is not None and number_arg(op, "end") <= start:
            raise UsageError(f"{op.op} from {start:g} s to {number_arg(op, 'end'):g} s: the end is not after the start")
    elif op.op == "pad":
        for key in ("start", "end"):
            _check_range(op, key, number_arg(op, key, 0.0), 0.0, 3600.0)
    elif op.op == "pauses":
        longer, to = number_arg(op, "longer_than"), number_arg(op, "to")
        _check_range(op, "longer_than", longer, 0.1, 60.0)
        if not 0.0 <= to <= longer:
            raise UsageError(f"pauses longer than {longer:g} s cannot be shortened to {to:g} s; give a length under {longer:g} s")
    elif op.op == "fade":
        fade_in, fade_out = number_arg(op, "in", 0.0), number_arg(op, "out", 0.0)
        for key, value in (("in", fade_in), ("out", fade_out)):
            _check_range(op, key, value, 0.0, 3600.0)
        if not fade_in and not fade_out:
            raise UsageError("a fade needs a length, e.g. \"fade in over 2 seconds\"")


def _run(audio: np.ndarray, sample_rate: int, op: Operation) -> DspResult:
    # imported lazily: a volume change should not pay for the other operations' set-up
    if op.op in FORMAT_OPS:
        raise UsageError(f"'{op.op}' changes the file's format; pipelines/edit.py applies it, not the engine")
    if op.op == "volume":
        factor = number_arg(op, "factor")
        return DspResult(audio * factor, [f"volume x{factor:g} ({20 * math.log10(factor):+.1f} dB)"])
    if op.op == "loudness":
        from ming_edit.dsp.loudness.normalize import normalize_loudness

        check_rate(op, sample_rate)
        target = number_arg(op, "lufs", DEFAULT_LUFS)
        ceiling = number_arg(op, "true_peak_db", DEFAULT_TRUE_PEAK)
        out, notes = normalize_loudness(audio, sample_rate, target, ceiling)
        return DspResult(out, notes)
    if op.op == "peak":
        from ming_edit.dsp.peak import normalize_peak

        true_peak = bool(op.args.get("true_peak", False))
        check_rate(op, sample_rate)
        out, notes = normalize_peak(audio, sample_rate, number_arg(op, "peak_db"), true_peak)
        return DspResult(out, notes)
    if op.op == "speed":
        from ming_edit.dsp.tempo import change_speed

        factor = speed_factor(op, audio.shape[0] / sample_rate)
        out = change_speed(audio, sample_rate, factor)
        secs = (audio.shape[0] / sample_rate, out.shape[0] / sample_rate)
        return DspResult(out, [f"speed x{factor:g}: {secs[0]:.2f} s -> {secs[1]:.2f} s, pitch kept"])
    if op.op == "pitch":
        from ming_edit.dsp.tempo import shift_pitch

        semitones = number_arg(op, "semitones")
        out = shift_pitch(audio, sample_rate, semitones)
        return DspResult(out, [f"pitch {semitones:+g} semitones, duration kept"])
    if op.op == "highpass":
        from ming_edit.dsp.filters import high_pass

        out, notes = high_pass(audio, sample_rate, number_arg(op, "cutoff_hz"))
        return DspResult(out, notes)
    if op.op == "hum":
        from ming_edit.dsp.hum import remove_hum

        out, notes = remove_hum(audio, sample_rate)
        return DspResult(out, notes)
    if op.op in DYNAMICS_OPS:
        curve, note = dynamics_curve(op, ArrayReader(audio), sample_rate)
        return DspResult(audio * curve(0, audio.shape[0])[:, None], [note])
    if op.op in TIME_OPS:
        from ming_edit.dsp.timeline import NEEDS_LEVELS, build, fade_gain, fade_note, frame_levels

        frames = audio.shape[0]
        if op.op == "fade":
            gain = fade_gain(frames, sample_rate, op.args)
            return DspResult(audio * gain(0, frames)[:, None], [fade_note(op.args)])
        levels, hop = frame_levels(audio, sample_rate) if op.op in NEEDS_LEVELS else (None, 0)
        plan, note = build(op.op, op.args, frames, sample_rate, levels, hop)
        out = plan.render(lambda a, b: audio[a:b], 0, plan.frames, audio.shape[1])
        return DspResult(out, [note])
    if op.args.get("method") == "deepfilter":
        from ming_edit.dsp.deepfilter import deep_denoise

        out, notes = deep_denoise(audio, sample_rate, GENTLE_LIMIT_DB if op.args.get("gentle") else None)
        return DspResult(out, notes)
    from ming_edit.dsp.denoise import denoise

    out = denoise(audio, sample_rate)
    if op.args.get("gentle"):
        out = gentle_mix(audio, out)
    return DspResult(out, classic_notes(op))


def gentle_mix(dry: np.ndarray, wet: np.ndarray) -> np.ndarray:
    """"Denoise gently" for the classic denoiser: the dry signal mixed back so that nothing is
    attenuated by much more than GENTLE_LIMIT_DB (DeepFilterNet3 has its own attenuation limit)."""
    return wet + 10.0 ** (-GENTLE_LIMIT_DB / 20.0) * (dry - wet)


def classic_notes(op: Operation) -> list[str]:
    gentle = f", gently: at most ~{GENTLE_LIMIT_DB:g} dB" if op.args.get("gentle") else ""
    return [f"denoised (MMSE log-spectral amplitude{gentle})"]


def check_rate(op: Operation, sample_rate: int) -> None:
    """Loudness and true peak need the K-weighting's and the meter's bands inside Nyquist."""
    if op.op == "loudness" and sample_rate < MIN_LOUDNESS_RATE:
        raise AudioError(f"loudness needs a sample rate of at least {MIN_LOUDNESS_RATE} Hz")
    if op.op == "peak" and op.args.get("true_peak") and sample_rate < MIN_LOUDNESS_RATE:
        raise AudioError(f"true-peak normalisation needs a sample rate of at least {MIN_LOUDNESS_RATE} Hz")


def dynamics_curve(op: Operation, reader: FrameReader, sample_rate: int,
                   on_frames: Callable[[int], None] | None = None) -> tuple[Any, str]:
    """The leveler's or the compressor's gain curve for a signal, from one pass in order."""
    from ming_edit.dsp.dynamics import COMPRESS_FRAME_S, compressor_curve, leveler_curve
    from ming_edit.dsp.levels import LevelMeter
    from ming_edit.dsp.loudness.meter import CHUNK, LoudnessMeter

    if op.op == "level":
        check_rate(Operation("loudness"), sample_rate)
        meter = LoudnessMeter(sample_rate, reader.channels, reader.frames)
    else:
        meter = LevelMeter(sample_rate, COMPRESS_FRAME_S)
    for start in range(0, reader.frames, CHUNK):
        block = reader.read(start, min(reader.frames, start + CHUNK))
        meter.feed(block if op.op == "level" else block.mean(axis=1))
        if on_frames is not None:
            on_frames(min(reader.frames, start + CHUNK))
    if op.op == "level":
        meas = meter.measurement()
        return leveler_curve(meas.hop_energy, meas.hop, meas.integrated())
    return compressor_curve(meter.finish(), meter.hop, sample_rate)


def speed_factor(op: Operation, seconds: float) -> float:
    if "duration" not in op.args:
        return number_arg(op, "factor")
    target = number_arg(op, "duration")
    factor = seconds / target
    if not SPEED_RANGE[0] <= factor <= SPEED_RANGE[1]:
        raise UsageError(f"the audio lasts {seconds:.2f} s; making it last {target:g} s needs speed x{factor:.3g}, "
                         f"outside {SPEED_RANGE[0]:g}..{SPEED_RANGE[1]:g}")
    return factor


def apply_operation(audio: np.ndarray, sample_rate: int, op: Operation) -> DspResult:
    """Apply one DSP operation to float audio [frames, channels] (1-D is taken as mono)."""
    validate_operation(op)
    return _run(_check_audio(audio, sample_rate), sample_rate, op)


def apply_operations(audio: np.ndarray, sample_rate: int, ops: Sequence[Operation]) -> DspResult:
    """Apply ``ops`` in order; notes are concatenated."""
    for op in ops:
        validate_operation(op)
    current = _check_audio(audio, sample_rate)
    notes: list[str] = []
    for op in ops:
        result = _run(current, sample_rate, op)
        current = result.audio
        notes.extend(result.notes)
    return DspResult(current, notes)
