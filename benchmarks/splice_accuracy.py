"""Splicer accuracy on constructed pairs (issue 9, part 1).

Each case takes a real speech clip (espeak-ng sentences in 4 voices at 22.05 kHz, the project's
examples, the MIT upstream demo clips), builds a "regenerated" version with one word-sized span
(between two quiet points, 0.2-0.7 s) deleted, replaced by other speech, or with other speech
inserted, then passes the whole regenerated clip through a realistic change: a +-3 % time warp
(a constant rate plus a slow wobble), a mild peaking EQ (+-3 dB), a -3..+3 dB level change, light
noise (35-45 dB SNR) and 16 kHz output (a 24 kHz round trip for 16 kHz sources). Global cases:
the clip pitch-shifted throughout (sox, +-3..5 semitones) or spoken by a different espeak voice.

The pair goes through the real path (`pipelines/splice.splice_files`: PCM_16 source WAV, FLOAT
16 kHz regenerated WAV, PCM_16 output), and the report counts: boundaries (source start/end,
regenerated start/end) within 40 ms of the truth, median / max boundary error, cases with the
wrong number or kind of edits, bit-identity of every "source" piece (read back as int16), global
detection, time per case.

    python benchmarks/splice_accuracy.py [--cases-per-clip 3] [--seeds 0 1 2] [--verbose]
    python benchmarks/splice_accuracy.py --long 3 10     # time long pairs
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter, resample_poly

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import speech  # noqa: E402

from ming_edit.pipelines.splice import splice_files  # noqa: E402

TOLERANCE = 0.040
FADE_SECONDS = 0.005
REGEN_RATE = 16000
OTHER_SPEAKERS = {"": ("+f2", "+f4"), "m": ("+f2", "+f4"), "f": ("+m2", "+m7")}  # the other gender
OTHER_WORDS = ("yesterday", "banana", "seventeen", "wonderful", "telephone", "absolutely", "orange", "tomorrow")


def quiet_points(x: np.ndarray, sr: int) -> np.ndarray:
    """Sample positions of local minima of the 20 ms energy inside the speech (word gaps, stops)."""
    hop = sr // 100
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    e = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    smooth = np.convolve(e, np.ones(3) / 3, mode="same")
    loud = np.percentile(smooth, 95)
    points: list[list[int]] = []
    for i in range(5, len(smooth) - 5):
        local = smooth[i - 5:i + 6]
        if smooth[i] == local.min() and local.max() - smooth[i] > 8 and smooth[i] < loud - 12:
            if points and points[-1][-1] == i - 1:  # a run of equal minima (a pause): its middle
                points[-1].append(i)
            else:
                points.append([i])
    return np.array([(run[0] + run[-1]) // 2 * hop + hop // 2 for run in points], dtype=np.int64)


def wordy(span: np.ndarray, clip: np.ndarray) -> bool:
    """The span holds speech (not only a pause)."""
    return bool(span.size) and np.sqrt(np.mean(span ** 2)) > 0.4 * np.sqrt(np.mean(clip ** 2))


def fade_join(parts: list[np.ndarray], sr: int) -> np.ndarray:
    """Concatenate with 5 ms linear fades at each join (what an editor would do; no clicks)."""
    n = int(FADE_SECONDS * sr)
    out = parts[0].copy()
    for p in parts[1:]:
        if len(out) >= n and len(p) >= n:
            ramp = np.linspace(0, 1, n)
            out[-n:] = out[-n:] * (1 - ramp) + p[:n] * ramp
            out = np.concatenate([out, p[n:]])
        else:
            out = np.concatenate([out, p])
    return out


def warp(x: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, callable]:
    """Time warp with local rate 1 + e0 + e1 sin(...), |rate - 1| <= 3 %. Returns the warped
    signal and the map input seconds -> output seconds."""
    e0 = rng.uniform(-0.02, 0.02)
    e1 = rng.uniform(0.0, 0.03 - abs(e0))
    period, phase = rng.uniform(2.0, 5.0), rng.uniform(0, 2 * np.pi)
    t_in = np.arange(len(x) + 1) / sr
    rate = 1 + e0 + e1 * np.sin(2 * np.pi * t_in / period + phase)  # input seconds per output second
    t_out = np.concatenate([[0.0], np.cumsum(1.0 / rate[:-1]) / sr])
    up = 4
    xu = resample_poly(x, up, 1)
    n_out = int(t_out[-1] * sr)
    tau = np.interp(np.arange(n_out) / sr, t_out, t_in)  # input time of each output sample
    y = np.interp(tau * sr * up, np.arange(len(xu)), xu)
    return y, (lambda s: float(np.interp(s, t_in, t_out)))


def peaking_eq(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    f0, gain_db, q = rng.uniform(300, 3000), rng.uniform(-3, 3), 1.0
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a]
    return lfilter(b, den, x)


def realistic(x: np.ndarray, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, callable]:
    """The regeneration's change: warp, EQ, level, noise, 16 kHz. Returns (16 kHz audio, time map)."""
    y, mapping = warp(x, sr, rng)
    y = peaking_eq(y, sr, rng) * 10 ** (rng.uniform(-3, 3) / 20)
    noise = rng.standard_normal(len(y))
    y = speech.mix_at_snr(y, noise, rng.uniform(35, 45))
    if sr == REGEN_RATE:
        y = resample_poly(resample_poly(y, 3, 2), 2, 3)
    else:
        g = np.gcd(sr, REGEN_RATE)
        y = resample_poly(y, REGEN_RATE // g, sr // g)
    return y, mapping


def clips() -> list[tuple[str, np.ndarray, int, str | None, str | None]]:
    """(name, mono float audio, rate, espeak text, espeak voice)."""
    out = []
    for v, voice in enumerate(speech.VOICES):
        for i, text in enumerate(speech.SENTENCES):
            out.append((f"espeak-{voice}-{i}", speech.espeak(text, voice, sample_rate=22050), 22050, text, voice))
    repo = Path(__file__).resolve().parents[1]
    paths = [repo / "examples" / "speech_en.wav", repo / "examples" / "speech_zh.wav"] + list(speech.UPSTREAM_CLIPS)
    seen = set()
    for path in paths:
        if path.exists():
            audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
            key = (sr, audio.shape[0])  # examples/speech_zh.wav is one of the upstream clips
            if key not in seen:
                seen.add(key)
                out.append((path.stem, audio.mean(axis=1), sr, None, None))
    return out


def other_speech(rng: np.random.Generator, sr: int, voice: str | None, pool: list) -> np.ndarray:
    """A word of other speech: an espeak word in the clip's voice, or a span of another clip."""
    if voice is not None:
        word = speech.espeak(str(rng.choice(OTHER_WORDS)), voice, sample_rate=sr)
        nz = np.flatnonzero(np.abs(word) > 1e-3)
        return word[nz[0]:nz[-1] + 1]
    name, audio, rate, _, _ = pool[rng.integers(len(pool))]
    if rate != sr:
        g = np.gcd(rate, sr)
        audio = resample_poly(audio, sr // g, rate // g)
    pts = quiet_points(audio, sr)
    for _ in range(200):
        a = int(rng.choice(pts))
        later = pts[(pts > a + 0.25 * sr) & (pts < a + 0.7 * sr)]
        if len(later):
            span = audio[a:int(rng.choice(later))]
            if wordy(span, audio):
                return span
    return other_speech(rng, sr, None, pool)  # another clip


def run_case(tmp: Path, name: str, x: np.ndarray, sr: int, regen: np.ndarray, truth: dict | None) -> dict:
    peak = np.abs(x).max()
    x = x * (0.5 / peak)
    src_i16 = np.round(x * 32767).astype(np.int16)
    src_path, reg_path, out_path = tmp / "src.wav", tmp / "regen.wav", tmp / "out.wav"
    sf.write(str(src_path), src_i16, sr, subtype="PCM_16")
    sf.write(str(reg_path), (regen * (0.5 / peak)).astype(np.float32), REGEN_RATE, subtype="FLOAT")
    t0 = time.perf_counter()
    report = splice_files(src_path, reg_path, out_path, overwrite=True)
    elapsed = time.perf_counter() - t0
    out, _ = sf.read(str(out_path), dtype="int16", always_2d=True)
    exact = all(np.array_equal(out[p.out_start:p.out_start + p.length, 0], src_i16[p.start:p.start + p.length])
                for p in report.pieces if p.kind == "source")
    tiled = sum(p.length for p in report.pieces) == out.shape[0]
    spans = None
    if truth is not None:
        spans = {k: pause_around(x if k.startswith("source") else regen, sr if k.startswith("source") else REGEN_RATE,
                                 truth[k]) for k in KEYS}
    return {"name": name, "report": report, "truth": truth, "time": elapsed, "exact": exact and tiled, "pauses": spans}


def pause_around(x: np.ndarray, sr: int, t: float) -> tuple[float, float]:
    """The pause (10 ms frames 30 dB under the clip's loud frames) that holds time t, or (t, t):
    cutting anywhere in the pause between two words is the same edit."""
    hop = sr // 100
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    e = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    quiet = e < np.percentile(e, 95) - 30
    i = min(int(t * 100), len(e) - 1)
    near = [j for j in (i, i - 1, i + 1, i - 2, i + 2) if 0 <= j < len(e) and quiet[j]]  # at a pause's edge
    if not near:
        return t, t
    lo = hi = near[0]
    while lo > 0 and quiet[lo - 1]:
        lo -= 1
    while hi + 1 < len(e) and quiet[hi + 1]:
        hi += 1
    return min(lo / 100, t), max((hi + 1) / 100, t)


def build_cases(per_clip: int, seed: int) -> list[tuple[str, np.ndarray, int, np.ndarray, dict | None]]:
    rng = np.random.default_rng(seed)
    pool = clips()
    cases = []
    for name, x, sr, text, voice in pool:
        pts = quiet_points(x, sr)
        pts = pts[(pts > 0.3 * sr) & (pts < len(x) - 0.3 * sr)]
        kinds = ["delete", "replace", "insert"][:per_clip]
        for kind in kinds:
            later = pts[:0]
            for _ in range(100):
                a = int(rng.choice(pts))
                later = pts[(pts > a + 0.2 * sr) & (pts < a + 0.7 * sr)]
                later = np.array([b for b in later if wordy(x[a:b], x)], dtype=np.int64)
                if kind == "insert" or len(later):
                    break
            if kind != "insert" and not len(later):
                continue  # no word-sized span between two quiet points in this clip
            b = int(rng.choice(later)) if kind != "insert" else a
            other = other_speech(rng, sr, voice, [c for c in pool if c[0] != name]) if kind != "delete" else None
            if other is not None:
                other = other * (np.sqrt(np.mean(x[max(0, a - sr):b + sr] ** 2)) / np.sqrt(np.mean(other ** 2)))
            fade = int(FADE_SECONDS * sr)  # each join overlaps its parts by this much; truth: the fade's centre
            if kind == "delete":
                built = fade_join([x[:a], x[b:]], sr)
                reg_span = ((a - fade / 2) / sr, (a - fade / 2) / sr)
            elif kind == "replace":
                built = fade_join([x[:a], other, x[b:]], sr)
                reg_span = ((a - fade / 2) / sr, (a + len(other) - 1.5 * fade) / sr)
            else:
                built = fade_join([x[:a], other, x[a:]], sr)
                reg_span = ((a - fade / 2) / sr, (a + len(other) - 1.5 * fade) / sr)
            regen, mapping = realistic(built, sr, rng)
            truth = {"kind": kind, "source_start": a / sr, "source_end": b / sr,
                     "regenerated_start": mapping(reg_span[0]), "regenerated_end": mapping(reg_span[1])}
            cases.append((f"{name}:{kind}", x, sr, regen, truth))
        # global cases: pitch-shifted throughout; a different espeak voice throughout
        cents = int(rng.choice([-1, 1]) * rng.uniform(300, 500))
        shifted = pitch_shift(x, sr, cents)
        regen, _ = realistic(shifted, sr, rng)
        cases.append((f"{name}:pitch{cents:+d}c", x, sr, regen, None))
        if text is not None:  # the same words by another speaker (another espeak variant)
            base, _, variant = voice.partition("+")
            base = "en" if base == "en-gb" else base  # espeak ignores variants on the en-gb alias
            others = OTHER_SPEAKERS[variant[:1]]
            other_voice = base + others[rng.integers(len(others))]
            regen, _ = realistic(speech.espeak(text, other_voice, sample_rate=sr), sr, rng)
            cases.append((f"{name}:voice={other_voice}", x, sr, regen, None))
    return cases


def pitch_shift(x: np.ndarray, sr: int, cents: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a.wav", Path(tmp) / "b.wav"
        sf.write(str(a), x * 0.5 / np.abs(x).max(), sr, subtype="FLOAT")
        subprocess.run(["sox", str(a), str(b), "pitch", str(cents)], check=True, capture_output=True)
        y, _ = sf.read(str(b), dtype="float64")
    return y * np.abs(x).max() / 0.5


KEYS = ("source_start", "source_end", "regenerated_start", "regenerated_end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases-per-clip", type=int, default=3, help="edit cases per clip (delete, replace, insert)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one case set per seed (spans, words, changes)")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    parser.add_argument("--long", type=float, nargs="*", metavar="MINUTES",
                        help="only time long pairs: the corpus repeated to MINUTES, one word deleted")
    args = parser.parse_args()
    if args.long:
        for minutes in args.long:
            long_pair(minutes)
        return
    cases = [c for seed in args.seeds for c in build_cases(args.cases_per_clip, seed)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, x, sr, regen, truth in cases:
            results.append(run_case(Path(tmp), name, x, sr, regen, truth))
    edits = [r for r in results if r["truth"] is not None]
    globals_ = [r for r in results if r["truth"] is None]
    errors, within, wrong, pause_errors, pause_within = [], 0, [], [], 0
    for r in edits:
        rep, truth = r["report"], r["truth"]
        if rep.is_global or len(rep.edits) != 1 or rep.edits[0].kind != truth["kind"]:
            wrong.append(r)
            errs = pause_errs = [float("inf")] * 4
        else:
            e = rep.edits[0].to_json()
            errs = [abs(e[k] - truth[k]) for k in KEYS]
            pause_errs = [max(0.0, r["pauses"][k][0] - e[k], e[k] - r["pauses"][k][1]) for k in KEYS]
        errors += errs
        within += sum(err <= TOLERANCE for err in errs)
        pause_errors += pause_errs
        pause_within += sum(err <= TOLERANCE for err in pause_errs)
        if args.verbose:
            got = "global" if rep.is_global else "; ".join(
                f"{e.kind} {e.source_start:.3f}-{e.source_end:.3f} / {e.regenerated_start:.3f}-{e.regenerated_end:.3f}" for e in rep.edits)
            want = f"{truth['kind']} {truth['source_start']:.3f}-{truth['source_end']:.3f} / " \
                   f"{truth['regenerated_start']:.3f}-{truth['regenerated_end']:.3f}"
            flag = "" if max(errs) <= TOLERANCE else "  <-- MISS" if max(pause_errs) > TOLERANCE else "  (in the pause)"
            print(f"{r['name']:45s} want {want:38s} got {got}{flag}")
    detected = sum(r["report"].is_global for r in globals_)
    if args.verbose:
        for r in globals_:
            print(f"{r['name']:45s} global={r['report'].is_global} edits={len(r['report'].edits)}")
    finite = [e for e in errors if np.isfinite(e)]
    times = [r["time"] for r in results]
    false_global = sum(r["report"].is_global for r in edits)
    print(f"edit cases: {len(edits)} ({len(wrong)} with a wrong edit count or kind, {false_global} called global; "
          f"their 4 boundaries count as misses)")
    finite_p = [e for e in pause_errors if np.isfinite(e)]
    print(f"boundaries within {TOLERANCE * 1000:.0f} ms of the true cut point: {within}/{len(errors)} = "
          f"{100 * within / len(errors):.1f} %; error median {1000 * statistics.median(finite):.1f} ms, "
          f"max {1000 * max(finite):.1f} ms")
    print(f"boundaries within {TOLERANCE * 1000:.0f} ms of the true cut's pause (a cut anywhere in the pause between "
          f"two words is the same edit): {pause_within}/{len(pause_errors)} = {100 * pause_within / len(pause_errors):.1f} %; "
          f"error median {1000 * statistics.median(finite_p):.1f} ms, max {1000 * max(finite_p):.1f} ms "
          f"(over the {len(finite_p) // 4} cases with one edit of the right kind)")
    print(f"source pieces bit-identical (and pieces tile the output): {sum(r['exact'] for r in results)}/{len(results)} cases")
    print(f"global cases reported global: {detected}/{len(globals_)} = {100 * detected / len(globals_):.1f} %")
    with tempfile.TemporaryDirectory() as tmp:
        print("upstream's real edit-model outputs against their inputs:")
        real_outputs(Path(tmp))
    print(f"time per case (read, align, splice, write): median {1000 * statistics.median(times):.0f} ms, "
          f"max {1000 * max(times):.0f} ms (clips {min(len(c[1]) / c[2] for c in cases):.1f}-"
          f"{max(len(c[1]) / c[2] for c in cases):.1f} s)")


def long_pair(minutes: float) -> None:
    """Time splice() on the espeak corpus repeated to ``minutes`` (22.05 kHz), 0.4 s deleted in
    the middle, the realistic change applied; peak RSS is the process's (the benchmark's arrays too)."""
    import resource

    from ming_edit.splice.splicer import splice

    sr = 22050
    base = np.concatenate([speech.espeak(t, v, sample_rate=sr) for v in speech.VOICES for t in speech.SENTENCES])
    x = np.tile(base, int(np.ceil(minutes * 60 * sr / len(base))))[: int(minutes * 60 * sr)]
    x *= 0.5 / np.abs(x).max()
    a = len(x) // 2
    b = a + int(0.4 * sr)
    regen, _ = realistic(fade_join([x[:a], x[b:]], sr), sr, np.random.default_rng(0))
    t0 = time.perf_counter()
    result = splice(np.round(x * 32767).astype(np.int16)[:, None], sr, regen[:, None], REGEN_RATE)
    elapsed = time.perf_counter() - t0
    found = "; ".join(f"{e.kind} {e.source_start:.2f}-{e.source_end:.2f} s" for e in result.edits)
    print(f"{minutes:g} min: splice() {elapsed:.1f} s, found {found or 'nothing'} (truth delete "
          f"{a / sr:.2f}-{b / sr:.2f} s), peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")


UPSTREAM = speech.UPSTREAM_DATA / "Ming-UniAudio" / "data"
# upstream's demo outputs of the edit model (data/output) and the inputs they were made from
REAL_PAIRS = (("del", "00004768-00000024"), ("ins", "00004768-00000024"), ("sub", "00004768-00000024"),
              ("time_stretch", "00004768-00000024"), ("pitch_shift", "00004768-00000024"),
              ("emotion", "emotion_00004753-00000079"), ("dialect_conversion", "emotion_00004753-00000079"),
              ("denoise", "noreverb_fileid_0"))


def real_outputs(tmp: Path) -> None:
    """What the splicer finds in real Ming-UniAudio-Edit outputs (no truth: shown for reading)."""
    for out_name, src_name in REAL_PAIRS:
        src, reg = UPSTREAM / "wavs" / f"{src_name}.wav", UPSTREAM / "output" / f"{out_name}.wav"
        if not (src.exists() and reg.exists()):
            continue
        rep = splice_files(src, reg, tmp / "real.wav", overwrite=True)
        found = "global" if rep.is_global else "; ".join(
            f"{e.kind} {e.source_start:.2f}-{e.source_end:.2f} s -> {e.regenerated_start:.2f}-{e.regenerated_end:.2f} s"
            for e in rep.edits) or "no edit"
        print(f"  {out_name:20s} ({src_name}): {found}; kept {100 * rep.kept_fraction:.0f} %")


if __name__ == "__main__":
    main()
