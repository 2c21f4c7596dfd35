"""What the user asked for: a Plan is the ordered Operations of one instruction.

Operation/Plan are the contract between the parser, the DSP engine and the model path. No numpy or
torch here. How the edit model is asked for each operation lives in ops/model_phrasing.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Format steps change the file, not the sound; the pipeline runs them first (loudness and peaks are
# then measured on what is written), exactly like --channels / --sample-rate.
FORMAT_OPS = ("channels", "resample", "convert")
TIME_OPS = ("cut", "keep", "pad", "trim", "pauses", "fade")  # dsp/timeline.py
DYNAMICS_OPS = ("level", "compress")  # dsp/dynamics.py
FILTER_OPS = ("highpass", "hum")  # dsp/filters.py
DSP_OPS = ("volume", "loudness", "peak", "speed", "pitch", "denoise") + FILTER_OPS + DYNAMICS_OPS + TIME_OPS + FORMAT_OPS
MASTER_HIGHPASS_HZ = 80.0  # "master for podcasts" = high-pass, leveler, loudness


def expand_master(loudness_args: dict) -> list["Operation"]:
    """The "master for podcasts" preset as the steps it stands for."""
    return [Operation("highpass", {"cutoff_hz": MASTER_HIGHPASS_HZ}), Operation("level"), Operation("loudness", loudness_args)]
MODEL_OPS = ("delete", "insert", "substitute", "emotion", "dialect", "add_sound", "freeform")  # the rest: the model
DENOISERS = ("auto", "deepfilter", "classic")  # --denoiser; auto: DeepFilterNet3 when installed
OUTPUT_RATES = (8000, 384000)  # what resample / --sample-rate accept, Hz
DEFAULT_LUFS = -16.0  # "normalize" alone means podcast loudness
DEFAULT_TRUE_PEAK = -1.0


@dataclass(frozen=True)
class Operation:
    """One step of a plan, e.g. Operation("volume", {"factor": 0.5}).

    DSP argument names: volume{factor}, loudness{lufs, true_peak_db}, peak{peak_db, true_peak}
    (a gain bringing the sample peak, or the true peak, to peak_db), speed{factor},
    pitch{semitones}, denoise{gentle?, method?: deepfilter|classic}; speed{duration} is a target length in seconds; time edits (seconds):
    cut{start, end|None} / cut{first} / cut{last}, keep{...the same}, pad{start?, end?},
    trim{start: bool, end: bool}, pauses{longer_than, to}, fade{in?, out?}; format steps:
    channels{channels}, resample{sample_rate}, convert{to?} (only the output's format). Model ops carry their own arguments (delete{text} or
    delete{start,end}, insert{text, after|before|after_index|before_index|at}, substitute{old,new}
    or substitute{start,end,new}, emotion{emotion}, dialect{dialect}, add_sound{sound},
    freeform{instruction}). Indices are 1-based and inclusive, as in the benchmark.
    """

    op: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return "dsp" if self.op in DSP_OPS else "model"

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, **self.args}

    def describe(self) -> str:
        """Short human description, e.g. 'volume x0.5 (-6.02 dB)'."""
        a = self.args
        if self.op == "volume":
            f = a["factor"]
            db = f"{20 * math.log10(f):+.2f} dB" if f > 0 else "silence"
            return f"volume x{f:g} ({db})"
        if self.op == "loudness":
            return f"loudness {a['lufs']:g} LUFS, true peak <= {a['true_peak_db']:g} dBTP"
        if self.op == "peak":
            kind = "true peak" if a.get("true_peak") else "sample peak"
            return f"peak normalize to {a['peak_db']:g} {'dBTP' if a.get('true_peak') else 'dBFS'} ({kind})"
        if self.op == "speed":
            return f"speed to last {a['duration']:g} s" if "duration" in a else f"speed x{a['factor']:g}"
        if self.op == "channels":
            return {1: "mono", 2: "stereo"}.get(a["channels"], f"{a['channels']} channels")
        if self.op == "resample":
            return f"resample to {a['sample_rate']} Hz"
        if self.op == "convert":
            return f"convert to {a['to']}" if "to" in a else "convert the format"
        if self.op == "pitch":
            return f"pitch {a['semitones']:+g} semitones"
        if self.op in TIME_OPS:
            return _describe_time(self.op, a)
        if self.op == "highpass":
            return f"high-pass at {a['cutoff_hz']:g} Hz"
        if self.op == "hum":
            return "remove mains hum (50/60 Hz and harmonics)"
        if self.op == "level":
            return "level the speech (slow leveler)"
        if self.op == "compress":
            return "compress the dynamics (3:1)"
        if self.op == "denoise":
            how = {"deepfilter": "DeepFilterNet3", "classic": "MMSE-LSA"}.get(a.get("method", ""), "")
            return "denoise" + (" gently" if a.get("gentle") else "") + (f" ({how})" if how else "")
        if not a:
            return self.op
        return self.op + " " + ", ".join(f"{k}={v!r}" for k, v in a.items())


def _clock(seconds: float) -> str:
    minutes, secs = divmod(float(seconds), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:05.2f}"
    return f"{minutes}:{secs:05.2f}" if minutes else f"{secs:g} s"


def _describe_time(op: str, a: dict[str, Any]) -> str:
    if op in ("cut", "keep"):
        if "first" in a:
            return f"{op} the first {a['first']:g} s"
        if "last" in a:
            return f"{op} the last {a['last']:g} s"
        end = "the end" if a.get("end") is None else _clock(a["end"])
        return f"{op} {_clock(a.get('start', 0.0))} to {end}"
    if op == "pad":
        return "add silence: " + ", ".join(f"{a[k]:g} s at the {k}" for k in ("start", "end") if a.get(k))
    if op == "trim":
        ends = [k for k in ("start", "end") if a.get(k, True)]
        return "trim the silence at the " + " and the ".join(ends)
    if op == "pauses":
        return f"shorten pauses longer than {a['longer_than']:g} s to {a['to']:g} s"
    return "fade " + " and ".join(f"{k} over {a[k]:g} s" for k in ("in", "out") if a.get(k))


@dataclass(frozen=True)
class Plan:
    instruction: str
    operations: tuple[Operation, ...]

    @property
    def engine(self) -> str:
        return "dsp" if all(o.engine == "dsp" for o in self.operations) else "model"

    def to_json(self) -> list[dict[str, Any]]:
        return [o.to_json() for o in self.operations]
