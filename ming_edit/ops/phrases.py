"""The phrase table: how instruction text maps to operations (English + Chinese).

Each row is ``Phrase(op, regex, extract)`` (phrase_kit.py). The parser (parser.py) prepares a clause
before matching: quoted spans become placeholders ``⟦0⟧``, number words and Chinese numerals become
digits, and "百分之二十" becomes "20%". So the regexes only ever see ASCII digits. Rows are tried in
order and the first whose regex is found in a clause wins: the leveler / compressor rows
(phrases_dynamics.py), the other DSP rows (phrases_dsp.py), then the
time edits (phrases_time.py), then the acoustic non-word rows (acoustic.py), then the model rows (phrases_model.py), so the generic
word-editing rows ("change X to Y", "delete X") come last.

Rows whose op starts with "_" are not steps: "_true_peak" refines the loudness step before it,
"_refused" rows only recognise a request in order to refuse it with a useful line.

Defaults and readings, in one place:
  * "louder" / "quieter" / "a bit louder" / "turn it up" / "放大" / "调小": +-STEP_DB (3 dB).
  * "speed up" / "slow down" / "faster" / "a bit slower" / "快一点": x(1 +- SPEED_STEP) (x1.1 / x0.9);
    "double the speed" x2; "speed to 70%" x0.7.
  * "放大到1.5倍" / "音量提高到1.5倍" set the volume; a bare "提高到1.5倍" names neither volume nor
    speed and is refused with both spellings.
  * "normalize" alone: -16 LUFS, -1 dBTP. A level above full scale ("14 LUFS", "+14", "loudness 14",
    "true peak 2") is refused with "did you mean -14 ...?", never flipped.
  * Peak normalisation ("normalize peaks to -1 dB", "峰值标准化到-1dB") is the "peak" step, on the
    sample peak unless the user says "true peak" or "dBTP".
  * Pitch amounts are semitones (= "steps", "half steps"); cents and octaves are converted; Hz,
    dB and % are refused (a pitch change in Hz depends on the voice).
"""

from __future__ import annotations

from ming_edit.ops.acoustic import ACOUSTIC_ROWS
from ming_edit.ops.phrase_kit import SPEED_STEP, STEP_DB, Phrase, check_finite, groups_of
from ming_edit.ops.phrases_dsp import DSP_ROWS
from ming_edit.ops.phrases_dynamics import DYNAMICS_ROWS
from ming_edit.ops.phrases_model import MODEL_ROWS
from ming_edit.ops.phrases_time import TIME_ROWS

TABLE: tuple[Phrase, ...] = DYNAMICS_ROWS + DSP_ROWS + TIME_ROWS + ACOUSTIC_ROWS + MODEL_ROWS

# Shown when an instruction is not understood (also in --help and the README).
EXAMPLES = (
    "normalize for podcasts",
    "normalize to -14 LUFS",
    "turn it down 6 dB",
    "make it 20% faster",
    "adjust the speed to 0.7",
    "raise the pitch by two semitones",
    "denoise and normalize to -16 LUFS",
    "delete the word 'um'",
    "replace 'cat' with 'dog'",
    "make it sound happy",
    "把音量调到0.5",
    "先降噪再把音量调到0.8",
)

__all__ = ["EXAMPLES", "SPEED_STEP", "STEP_DB", "TABLE", "Phrase", "check_finite", "groups_of"]
