"""A word deleted from an hour-long episode: what the model edit costs outside the model.

Builds an N-minute 44.1 kHz stereo PCM_16 episode of real speech (examples/speech_en.wav and
speech_zh.wav, with pauses and level changes) block by block, a `transcribe -f json` style
transcript that puts the word "banana" in one window in the middle, and runs
`edit_file(..., "delete the word 'banana'", transcript=...)` on the tiny always-audio checkpoint
(benchmarks/checkpoints.py). Reports the wall time split into model (load + generation) and
everything else (reading, locating, splicing, writing), peak RSS, and checks that every sample
outside the edited window is the input's own.

    python benchmarks/long_edit.py [--minutes 60] [--dir /tmp]

Target (issue 9): under 10 s outside the model for the hour; only the edited window differs.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RATE = 44100


def make_episode(path: Path, minutes: float) -> None:
    from ming_edit.dsp.convert import resample

    takes = []
    for name in ("speech_en.wav", "speech_zh.wav"):
        voice, rate = sf.read(str(REPO / "examples" / name), dtype="float64")
        takes.append(resample(voice[:, None] if voice.ndim == 1 else voice, rate, RATE)[:, 0])
    pause = np.zeros(int(0.7 * RATE))
    total, level, k = int(minutes * 60 * RATE), 1.0, 0
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=2, subtype="PCM_16") as f:
        written = 0
        while written < total:
            mono = np.concatenate([takes[k % 2] * 0.5 * level, pause])[: total - written]
            f.write(np.stack([mono, 0.7 * mono], axis=1))
            written += len(mono)
            k, level = k + 1, 1.3 - level / 2


def same_blocks(a: sf.SoundFile, a_start: int, b: sf.SoundFile, b_start: int, frames: int) -> bool:
    """Whether ``frames`` int16 samples of ``a`` from ``a_start`` equal ``b``'s from ``b_start``."""
    a.seek(a_start)
    b.seek(b_start)
    for done in range(0, frames, 1 << 20):
        n = min(1 << 20, frames - done)
        if not np.array_equal(a.read(n, dtype="int16"), b.read(n, dtype="int16")):
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()

    from benchmarks.checkpoints import always_audio_checkpoint
    from ming_edit.io import audio as audio_in
    from ming_edit.model import session
    from ming_edit.options import EditOptions, ModelOptions
    from ming_edit.pipelines import regenerate
    from ming_edit.pipelines.edit import edit_file, make_plan
    from ming_edit.pipelines.model_edit import window_spans

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        src, out = tmp / "episode.wav", tmp / "edited.wav"
        t0 = time.perf_counter()
        make_episode(src, args.minutes)
        spans = window_spans(audio_in.probe(src))
        target = len(spans) // 2
        segments = [{"start": s.start / RATE + 0.05, "end": s.end / RATE - 0.05,
                     "text": "and then a banana fell" if i == target else "the quick brown fox"}
                    for i, s in enumerate(spans)]
        transcript = tmp / "episode.json"
        transcript.write_text(json.dumps({"segments": segments}), encoding="utf-8")
        checkpoint = always_audio_checkpoint(tmp / "checkpoint")
        print(f"built {args.minutes:g} min episode ({src.stat().st_size / 2**20:.0f} MiB), {len(spans)} windows, "
              f"checkpoint in {time.perf_counter() - t0:.1f} s")

        model_s = {"load": 0.0, "generate": 0.0}
        real_open, real_clip = session.open_stack, regenerate.regenerate_clip

        def timed(key, fn):
            def run(*a, **k):
                start = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    model_s[key] += time.perf_counter() - start
            return run

        session.open_stack = timed("load", real_open)
        regenerate.regenerate_clip = timed("generate", real_clip)
        options = EditOptions(model=ModelOptions(model=checkpoint, device="cpu", seed=0), transcript=transcript)
        start = time.perf_counter()
        result = edit_file(src, make_plan("delete the word 'banana'"), out, options)
        wall = time.perf_counter() - start
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the check below reads
        edited = [i for i, w in enumerate(result.windows) if w.edited]

        span = spans[target]
        with sf.SoundFile(str(src)) as source, sf.SoundFile(str(out)) as written:
            tail = source.frames - span.end
            same_before = same_blocks(source, 0, written, 0, span.start)
            same_after = same_blocks(source, span.end, written, written.frames - tail, tail)
        outside = wall - model_s["load"] - model_s["generate"]
        print("| minutes | windows | edited | wall s | model load s | generation s | outside the model s | "
              "bit-exact before / after | peak RSS MiB (edit) |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(f"| {args.minutes:g} | {len(spans)} | {edited} | {wall:.1f} | {model_s['load']:.1f} | "
              f"{model_s['generate']:.1f} | {outside:.1f} | {same_before} / {same_after} | {rss:.0f} |")


if __name__ == "__main__":
    main()
