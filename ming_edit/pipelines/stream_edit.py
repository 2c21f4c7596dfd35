"""Streamed DSP edits: blocks in, blocks out, so peak memory does not grow with the recording.

Streams every DSP step: volume, peak (sample or true), loudness, speed, pitch and the format steps
(channels, sample rate, convert); denoise too. The one exception is a lossy output that ends on
loudness: it is fitted to the codec on the whole decoded signal (pipelines/edit.py).

A plan runs as a chain of pointwise steps (volume, channels, a measured peak gain) over a source:
the input file, raw float32 scratch beside the output, or frames computed on demand (a
loudness-normalised signal: dsp/loudness/normalize.Rendered). A step that needs the whole signal
reads the chain once to measure it first (peak; for sox steps also length and 20 ms energies);
loudness and true peak read it through a FrameReader (one pass in order, then only the ranges
the limiter needs). A sox step (speed, pitch, resample) runs one sox process per piece
(dsp/tempo.py's quiet cuts), each fed by its own reader and fitted to its exact length at its
offset in a new scratch file; sox's float32 output is kept as is, so reading it back is
lossless. The last pass writes the output: the clipping rule needs its peak, so a boosting plan
measures first; any other writes at once and, if a block clips, drops that attempt, measures,
and writes again scaled. Each step computes, block by block, what dsp/engine.py computes on the
whole array, so the results match. Progress is reported per pass.
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import replace
from typing import Callable

import numpy as np

from ming_edit.dsp import tempo
from ming_edit.dsp.convert import remix
from ming_edit.dsp.denoise import DenoiseStats, denoise_blocks
from ming_edit.dsp.engine import (
    GENTLE_LIMIT_DB, apply_operation, check_rate, classic_notes, dynamics_curve, number_arg, speed_factor,
    validate_operation,
)
from ming_edit.dsp import timeline as timeline_edits
from ming_edit.dsp.levels import LevelMeter
from ming_edit.dsp.loudness.normalize import plan_loudness
from ming_edit.dsp.loudness.truepeak import TruePeakScanner, block_statistics
from ming_edit.dsp.peak import peak_gain
from ming_edit.dsp.sox import headroom_scale, sox_pieces_to_file
from ming_edit.errors import AudioError
from ming_edit.io import audio as audio_in
from ming_edit.io import formats
from ming_edit.io.writer import audio_writer, clip_rule, scratch_file
from ming_edit.ops.operation import (
    DEFAULT_LUFS, DEFAULT_TRUE_PEAK, DYNAMICS_OPS, FILTER_OPS, FORMAT_OPS, TIME_OPS, Operation, Plan,
)
from ming_edit.options import EditOptions, EditResult, ProgressCallback
from ming_edit.pipelines.stream_sources import (
    BLOCK, Chain, ChainReader, Computed, InOrder, Input, Scratch, TimeEdited, gently,
)

STREAMED_OPS = ("volume", "peak", "loudness", "speed", "pitch", "denoise", *FILTER_OPS, *DYNAMICS_OPS, *TIME_OPS, *FORMAT_OPS)
POINTWISE_OPS = ("volume", "channels")  # read a chain in order, never by range


def can_stream(plan: Plan, subtype: str = "PCM_16") -> bool:
    """Every step streams. A lossy output that ends on loudness is fitted to the codec on the
    whole decoded signal (loudness.normalize.fit_decoded), so it stays in memory."""
    ops = [o for o in plan.operations if o.op not in FORMAT_OPS]
    if ops and ops[-1].op == "loudness" and subtype in formats.LOSSY_SUBTYPES:
        return False
    return all(o.op in STREAMED_OPS for o in plan.operations)


class _Clipped(Exception):
    """A block of an output written before its peak was known went beyond full scale."""


class _StreamedEdit:
    def __init__(self, result: EditResult, info: audio_in.AudioInfo, fmt: str, subtype: str, options: EditOptions,
                 on_progress: ProgressCallback | None, stages: list[Operation]) -> None:
        self.result, self.info, self.fmt, self.subtype, self.options = result, info, fmt, subtype, options
        self.on_progress = on_progress
        self.stack = ExitStack()  # every scratch file, removed however the edit ends
        self.notes: list[str] = []
        bounded = formats.is_bounded(subtype)
        self.measure_output = bounded and any(o.op == "volume" and number_arg(o, "factor") > 1.0 for o in stages)
        sox_steps = sum(o.op in ("speed", "resample") or (o.op == "pitch" and number_arg(o, "semitones")) for o in stages)
        measured = sum(o.op in ("peak", "loudness", "denoise", "trim", "pauses", "hum", *DYNAMICS_OPS) for o in stages)
        self.done, self.planned = 0, 1 + self.measure_output + measured + 2 * sox_steps  # measure + sox for each

    def _pass(self, total: int | None) -> Callable[[int], None]:
        """Start the next pass; returns its progress callback (frames done)."""
        self.done += 1
        self.planned = max(self.planned, self.done)
        task = f"editing {self.result.input.name}: pass {self.done}/{self.planned}"
        report = self.on_progress or (lambda task, done, total: None)
        report(task, 0, total)
        return lambda frames: report(task, frames, total)

    def _frames(self, chain: Chain) -> int:
        """The chain's exact length: a lossy input's header is not exact, so it is decoded once."""
        if chain.frames is None and self.info.subtype not in formats.LOSSY_SUBTYPES:
            chain.source.frames = self.info.frames  # the header of an uncompressed file is exact (checked)
        return chain.frames if chain.frames is not None else self.measure(chain)[0]

    def levels(self, chain: Chain) -> np.ndarray:
        """20 ms levels of the chain's channel mean (dsp/levels.py), in one pass."""
        meter = LevelMeter(chain.rate)
        tick, frames = self._pass(chain.frames or self.info.frames), 0
        for block in chain.blocks():
            meter.feed(block.mean(axis=1))
            frames += block.shape[0]
            tick(frames)
        return meter.finish()

    def measure(self, chain: Chain, energy: bool = False) -> tuple[int, float, float, np.ndarray | None]:
        """(frames, max, min, per-20 ms energy or None) of the chain, in one pass."""
        tick = self._pass(chain.frames or self.info.frames)
        meter = tempo.EnergyMeter(chain.rate) if energy else None
        frames, high, low = 0, -math.inf, math.inf
        for block in chain.blocks():
            high, low = max(high, float(block.max())), min(low, float(block.min()))
            if meter is not None:
                meter.feed(block)
            frames += block.shape[0]
            tick(frames)
        return frames, high, low, meter.energy() if meter is not None else None

    def step(self, chain: Chain, op: Operation, in_order: bool = False) -> Chain:
        """``chain`` followed by ``op``. ``in_order``: nothing after it reads by range."""
        if op.op == "channels":
            have, want = chain.channels, int(op.args["channels"])
            remix(np.zeros((1, have)), want)  # refuses an undefined remix before any work
            self.notes.append(f"channels {have} -> {want}")
            return chain.then(lambda block: remix(block, want), want)
        if op.op == "volume":
            factor = number_arg(op, "factor")
            self.notes += apply_operation(np.zeros((1, 1)), chain.rate, op).notes  # the engine's note text
            return chain.then(lambda block: block * factor)
        if op.op in FILTER_OPS:
            from ming_edit.dsp import filters, hum

            if op.op == "highpass":
                cut = number_arg(op, "cutoff_hz")
                filters.check_high_pass(cut, sample_rate=chain.rate)
                make = lambda: filters.HighPass(chain.rate, chain.channels, cut)  # noqa: E731 - fresh state per read
                self.notes += filters.high_pass(np.zeros((1, chain.channels)), chain.rate, cut)[1]
            else:
                detector, tick, frames = hum.HumDetector(chain.rate, chain.channels), self._pass(chain.frames or self.info.frames), 0
                for block in chain.blocks():
                    detector.feed(block)
                    frames += block.shape[0]
                    tick(frames)
                estimate = detector.result()
                notch = hum.hum_notch(estimate, chain.rate, chain.channels)
                self.notes.append(hum.hum_note(estimate, notch))
                if notch is None:
                    return chain
                make = lambda: hum.hum_notch(estimate, chain.rate, chain.channels)  # noqa: E731
            out = Chain(InOrder(chain, lambda blocks: (f.process(b) for f in [make()] for b in blocks)), chain.rate, chain.channels)
            return out if in_order else self.materialise(out)
        if op.op == "denoise" and op.args.get("method") == "deepfilter":
            from ming_edit.dsp import deepfilter

            limit = GENTLE_LIMIT_DB if op.args.get("gentle") else None
            deepfilter.load_runtime()  # a missing package is one line before any work
            self.notes += deepfilter.notes(chain.rate, chain.channels, limit)
            out = Chain(InOrder(chain, lambda blocks: deepfilter.deep_denoise_blocks(blocks, chain.rate, chain.channels, limit)),
                         chain.rate, chain.channels)
            return out if in_order else self.materialise(out)
        if op.op == "denoise":
            stats = DenoiseStats(chain.rate, chain.channels)
            tick = self._pass(chain.frames or self.info.frames)
            for block in chain.blocks():
                stats.add(block)
                tick(stats.length)
            self.notes += classic_notes(op)
            gentle = op.args.get("gentle")
            out = Chain(InOrder(chain, lambda blocks: gently(denoise_blocks(blocks, stats), chain.blocks()) if gentle
                                  else denoise_blocks(blocks, stats), frames=stats.length), chain.rate, chain.channels)
            return out if in_order else self.materialise(out)
        if op.op in DYNAMICS_OPS:
            reader = ChainReader(chain, self._frames(chain))
            curve, note = dynamics_curve(op, reader, chain.rate, on_frames=self._pass(reader.frames))
            self.notes.append(note)
            return Chain(Computed(TimeEdited(reader, gain=curve)), chain.rate, chain.channels)
        if op.op in TIME_OPS:
            reader = ChainReader(chain, self._frames(chain))
            if op.op == "fade":
                edited = TimeEdited(reader, gain=timeline_edits.fade_gain(reader.frames, chain.rate, op.args))
                self.notes.append(timeline_edits.fade_note(op.args))
            else:
                levels, hop = (self.levels(chain), timeline_edits.level_hop(chain.rate)) \
                    if op.op in timeline_edits.NEEDS_LEVELS else (None, 0)
                plan, note = timeline_edits.build(op.op, op.args, reader.frames, chain.rate, levels, hop)
                edited = TimeEdited(reader, timeline=plan)
                self.notes.append(note)
            return Chain(Computed(edited), chain.rate, chain.channels)
        if op.op == "loudness":
            target, ceiling = number_arg(op, "lufs", DEFAULT_LUFS), number_arg(op, "true_peak_db", DEFAULT_TRUE_PEAK)
            check_rate(op, chain.rate)
            reader = ChainReader(chain, self._frames(chain))
            signal, notes = plan_loudness(reader, chain.rate, target, ceiling, on_frames=self._pass(reader.frames))
            self.notes += notes
            return Chain(Computed(signal), chain.rate, chain.channels)
        if op.op == "peak" and op.args.get("true_peak"):
            check_rate(op, chain.rate)
            reader = ChainReader(chain, self._frames(chain))
            stats = block_statistics(reader, on_frames=self._pass(reader.frames))
            level = TruePeakScanner(reader, chain.rate, stats=stats).true_peak()
            gain, note = peak_gain(level, number_arg(op, "peak_db"), True)
            self.notes.append(note)
            return chain.then(lambda block: block * gain)
        if op.op == "peak":
            _, high, low, _ = self.measure(chain)
            gain, note = peak_gain(max(high, -low), number_arg(op, "peak_db"), False)  # dsp/peak.py's gain and note
            self.notes.append(note)
            return chain.then(lambda block: block * gain)
        if op.op == "resample":
            rate = int(op.args["sample_rate"])
            self.notes.append(f"sample rate {chain.rate} -> {rate} Hz")
            frames, high, low, _ = self.measure(chain)
            scale = headroom_scale(np.array([high, low]))
            out = self.run_sox(chain, ["rate", "-v"], [0, frames], [round(frames * rate / chain.rate)], scale, rate)
            return out.then(lambda block: block / scale)  # dsp/convert.resample divides
        if op.op == "pitch" and number_arg(op, "semitones") == 0.0:
            self.notes += apply_operation(np.zeros((1, 1)), chain.rate, op).notes
            return chain
        frames, high, low, energy = self.measure(chain, energy=True)
        if op.op == "speed":
            factor = speed_factor(op, frames / chain.rate)
            ratio, effect = 1.0 / factor, tempo.speed_effect(factor)
            seconds = frames / chain.rate, round(frames * ratio) / chain.rate
            self.notes.append(f"speed x{factor:g}: {seconds[0]:.2f} s -> {seconds[1]:.2f} s, pitch kept")
            if factor == 1.0:
                self.planned -= 1
                return chain
        else:
            ratio, effect = 1.0, tempo.pitch_effect(number_arg(op, "semitones"))
            self.notes += apply_operation(np.zeros((1, 1)), chain.rate, op).notes
        if high == 0.0 and low == 0.0:  # silence stays silence, at the requested length (as dsp/tempo.py)
            self.planned -= 1
            self._release(chain)
            return Chain(Scratch(None, round(frames * ratio), chain.channels, lambda: None), chain.rate, chain.channels)
        pieces = tempo.piece_count(frames, chain.rate)
        cuts = tempo.quiet_cuts(energy, frames, chain.rate, pieces) if pieces > 1 else [0, frames]
        scale = headroom_scale(np.array([high, low]))
        out = self.run_sox(chain, effect, cuts, tempo.piece_frames(cuts, ratio), scale, chain.rate)
        inverse = 1.0 / scale
        return out.then(lambda block: block * inverse)  # dsp/tempo.py multiplies by the inverse

    def run_sox(self, chain: Chain, effect: list[str], cuts: list[int], lengths: list[int], scale: float,
                rate: int) -> Chain:
        """Each piece chain[cuts[i]:cuts[i+1]] * scale through its own sox process, fitted to
        lengths[i] frames, at its offset in a new scratch file (in parallel, as dsp/tempo.py)."""
        own = ExitStack()
        self.stack.callback(own.close)
        path = own.enter_context(scratch_file(self.result.output))
        pieces = [lambda i=i: (block * scale for block in chain.blocks(cuts[i], cuts[i + 1])) for i in range(len(lengths))]
        sox_pieces_to_file(path, pieces, lengths, chain.rate, chain.channels, effect, out_rate=rate,
                           block_frames=BLOCK, tick=self._pass(sum(lengths)))
        self._release(chain)
        return Chain(Scratch(path, sum(lengths), chain.channels, own.close), rate, chain.channels)

    def materialise(self, chain: Chain) -> Chain:
        """``chain`` written to raw float32 scratch for steps that read by range (float32 holds
        24 bits, more than any output format but FLOAT/DOUBLE keeps)."""
        own = ExitStack()
        self.stack.callback(own.close)
        path = own.enter_context(scratch_file(self.result.output))
        self.planned += 1
        tick, frames = self._pass(chain.frames or self.info.frames), 0
        with open(path, "wb") as f:
            for block in chain.blocks():
                f.write(block.astype("<f4").tobytes())
                frames += block.shape[0]
                tick(frames)
        return Chain(Scratch(path, frames, chain.channels, own.close), chain.rate, chain.channels)

    @staticmethod
    def _release(chain: Chain) -> None:
        """Remove the scratch file a chain reads once nothing reads it any more (disk space)."""
        if isinstance(chain.source, Scratch):
            chain.source.release()

    def write(self, chain: Chain) -> tuple[int, str | None, float]:
        """Write the output, applying the clipping rule; returns (frames, note, clip gain dB)."""
        peak = None
        if self.measure_output:
            _, high, low, _ = self.measure(chain)
            peak = max(high, -low)
        while True:
            gain, note, gain_db = clip_rule(peak, self.subtype, no_limit=self.options.no_limit) if peak is not None \
                else (1.0, None, 0.0)
            try:
                return self._write_pass(chain, gain if note else None, peak is None), note, gain_db
            except _Clipped:
                self.planned += 2
                _, high, low, _ = self.measure(chain)
                peak = max(high, -low)

    def _write_pass(self, chain: Chain, gain: float | None, check_clip: bool) -> int:
        tick = self._pass(chain.frames or self.info.frames)
        check_clip = check_clip and formats.is_bounded(self.subtype)
        with audio_writer(self.result.output, chain.rate, chain.channels, fmt=self.fmt, subtype=self.subtype,
                          kbps=self.options.bitrate) as out:
            for block in chain.blocks():
                audio_in.check_finite(block, chain.rate, "the edited audio", offset=out.frames)
                if check_clip and (block.max() > 1.0 or block.min() < -1.0):
                    raise _Clipped()
                if gain is not None:
                    block *= gain
                out.write(block)
                tick(out.frames)
        return out.frames


def edit_streamed(result: EditResult, fmt: str, subtype: str, options: EditOptions, channels: int | None,
                  sample_rate: int | None, on_progress: ProgressCallback | None = None) -> EditResult:
    """Edit ``result.input`` into ``result.output`` block by block: the conversions to ``channels``
    / ``sample_rate`` first (as pipelines/edit.py's ``_convert``), then the plan's other steps."""
    info = audio_in.probe(result.input)
    stages = [Operation("channels", {"channels": channels})] if channels and channels != info.channels else []
    if sample_rate and sample_rate != info.sample_rate:
        stages.append(Operation("resample", {"sample_rate": sample_rate}))
    stages += [o for o in result.plan.operations if o.op not in FORMAT_OPS]
    for op in stages:
        validate_operation(op)
    edit = _StreamedEdit(result, info, fmt, subtype, options, on_progress, stages)
    source = Input(info, edit.stack)
    with edit.stack:
        chain = Chain(source, info.sample_rate, info.channels)
        for index, op in enumerate(stages):
            chain = edit.step(chain, op, in_order=all(o.op in POINTWISE_OPS for o in stages[index + 1 :]))
            if chain.frames == 0:  # e.g. a one-sample clip made 4x faster: never write an empty file
                raise AudioError(f"{result.input} is too short for this edit: nothing would be left of it")
        frames, note, clip_gain_db = edit.write(chain)
    notes = list(result.notes) + edit.notes + ([note] if note else [])
    return replace(result, duration_in=source.frames / info.sample_rate, duration_out=frames / chain.rate,
                   notes=tuple(notes), clip_gain_db=clip_gain_db)
