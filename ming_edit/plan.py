"""Instruction text -> Plan: the list of operations an edit instruction asks for.

(Operation/Plan types are the contract between the parser, the DSP engine and the model path;
the parser itself lives below and reads its phrasings from phrases.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DSP_OPS = ("volume", "loudness", "speed", "pitch", "denoise")
MODEL_OPS = ("delete", "insert", "substitute", "emotion", "dialect", "add_sound", "freeform")


@dataclass(frozen=True)
class Operation:
    """One step of a plan, e.g. Operation("volume", {"factor": 0.5}).

    DSP argument names: volume{factor}, loudness{lufs, true_peak_db}, speed{factor},
    pitch{semitones}, denoise{}. Model ops carry their own arguments (delete{text}, insert{text,
    after|before}, substitute{old,new}, emotion{emotion}, dialect{dialect}, add_sound{sound},
    freeform{instruction}).
    """

    op: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return "dsp" if self.op in DSP_OPS else "model"

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, **self.args}


@dataclass(frozen=True)
class Plan:
    instruction: str
    operations: tuple[Operation, ...]

    @property
    def engine(self) -> str:
        return "dsp" if all(o.engine == "dsp" for o in self.operations) else "model"
