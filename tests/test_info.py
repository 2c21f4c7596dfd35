"""`ming-edit info`: the EBU test signals (synthesised here from the specs), the JSON schema, the
human output and the bad inputs.

EBU Tech 3341 (2016+, "EBU Mode" meters) and Tech 3342 (loudness range) test signals, as read from
the specs (levels are per-channel sine peak levels in dBFS; 48 kHz stereo, both channels alike,
written as 24-bit WAV like the EBU's files and measured through the whole `info` pipeline):

* 3341 case 1 / 2: 1 kHz, -23 / -33 dBFS, 20 s -> M, S, I = -23.0 / -33.0 +-0.1 LUFS (M and S read
  as their maxima).
* case 3: -36 dBFS 10 s, -23 dBFS 60 s, -36 dBFS 10 s -> I = -23.0 +-0.1.
* case 4: -72 10 s, -36 10 s, -23 60 s, -36 10 s, -72 10 s -> I = -23.0 +-0.1.
* case 5: -26 20 s, -20 20.1 s, -26 20 s -> I = -23.0 +-0.1.
  The spec states only I for cases 3-5; the maxima checked here follow from the signal (M max =
  S max = the loudest segment: -23 / -23 / -20 LUFS), with the same +-0.1.
* case 9: 1.34 s at -20 dBFS then 1.66 s at -30 dBFS, repeated (6 periods here) -> S = -23.0 +-0.1,
  constant after 3 s: every short-term value whose 3 s window lies in the signal, and the maximum.
* case 12: 0.18 s at -20 dBFS then 0.22 s at -30 dBFS, repeated (25 periods) -> M = -23.0 +-0.1,
  constant after 1 s: every momentary value whose window ends at or after 1 s, and the maximum.
* true peak, expected +0.2 / -0.4 dB: 15: fs/4 (12 kHz), 0.5 FFS (-6.02 dBFS), phase 0 -> -6.0 dBTP;
  16: fs/4, 0.5, 45 deg; 17: fs/6 (8 kHz), 0.5, 60 deg; 18: fs/8 (6 kHz), 0.5, 67.5 deg -> -6.0;
  19: fs/4, 1.41 FFS, 45 deg (samples just under full scale) -> +3.0 dBTP. Phases as sin(2 pi f n /
  fs + phase): each puts the crest half-way between two samples. Our reading: 1 s tones with 20 ms
  raised-cosine ends. A tone switched on abruptly is a step, whose band-limited reconstruction
  overshoots (Gibbs): our meter, which interpolates exactly, reads 0.2-0.7 dB above the tone's own
  crest at such an onset (e.g. case 18: -5.28 dBTP, see test_abrupt_onsets_overshoot), which is a
  true inter-sample peak of that signal but not what the case is about.
* true peak 20-23 -> 0.0 dBTP +0.2 / -0.4: the spec gives only the expected reading for its files
  (excerpts whose construction we do not have), so these are stand-ins with a known 0 dBTP crest,
  flagged as such: 20: a band-limited pulse (Kaiser-windowed sinc, cutoff 0.4 fs) peaking at 1.0 on
  a sample; 21: the same pulse centred half-way between two samples (sample peak -2.4 dBFS);
  22: fs/3 (16 kHz) at 1.0 FFS, phase 0 (sample peak -1.25 dBFS); 23: 3/8 fs (18 kHz) at 1.0 FFS,
  phase 22.5 deg, which puts every crest and trough half-way between two samples (sample peak
  -0.69 dBFS); 22 and 23 with the ramps above.
* 3342 case 1: -20 dBFS 20 s then -30 dBFS 20 s -> LRA 10 +-1 LU; 2: -20 then -15 -> 5; 3: -40 then
  -20 -> 20; 4: -50, -35, -20, -35, -50 (20 s each) -> 15.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from test_cli_support import REPO, invoke, write_tone

RATE = 48000
REQUIRED_KEYS = {"integrated_lufs", "lra_lu", "momentary_max_lufs", "short_term_max_lufs", "true_peak_dbtp",
                 "sample_peak_dbfs", "noise_floor_dbfs", "duration", "sample_rate", "channels", "format", "subtype"}


def sine_steps(steps: list[tuple[float, float]], freq: float = 1000.0) -> np.ndarray:
    """A phase-continuous stereo sine whose peak level (dBFS) changes in steps (level, seconds)."""
    amps = np.concatenate([np.full(int(round(sec * RATE)), 10.0 ** (db / 20.0)) for db, sec in steps])
    mono = amps * np.sin(2 * np.pi * freq * np.arange(len(amps)) / RATE)
    return np.stack([mono, mono], axis=1)


def ramped_tone(freq: float, amp: float, phase_deg: float, seconds: float = 1.0) -> np.ndarray:
    n = np.arange(int(seconds * RATE))
    mono = amp * np.sin(2 * np.pi * freq * n / RATE + np.deg2rad(phase_deg))
    r = int(0.02 * RATE)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r)
    mono[:r] *= ramp
    mono[-r:] *= ramp[::-1]
    return np.stack([mono, mono], axis=1)


def pulse(centre_offset: float, seconds: float = 1.0) -> np.ndarray:
    """Kaiser-windowed sinc (cutoff 0.4 fs, 513 taps) peaking at 1.0, centred ``centre_offset``
    samples after a sample, in the middle of ``seconds`` of silence."""
    n = np.arange(int(seconds * RATE), dtype=float)
    t = n - len(n) // 2 - centre_offset
    half = 256
    window = np.where(np.abs(t) < half, np.i0(8.0 * np.sqrt(np.clip(1 - (t / half) ** 2, 0, 1))) / np.i0(8.0), 0.0)
    mono = np.sinc(0.8 * t) * window
    return np.stack([mono, mono], axis=1)


def analyse(tmp_path: Path, audio: np.ndarray, name: str = "case.wav"):
    from ming_edit.pipelines.info import analyse_file

    path = tmp_path / name
    sf.write(str(path), audio, RATE, subtype="PCM_24")
    return analyse_file(path).loudness


LOUDNESS_CASES = {  # case: (steps, expected I, expected M max, expected S max)
    "3341-1": ([(-23, 20)], -23.0, -23.0, -23.0),
    "3341-2": ([(-33, 20)], -33.0, -33.0, -33.0),
    "3341-3": ([(-36, 10), (-23, 60), (-36, 10)], -23.0, -23.0, -23.0),
    "3341-4": ([(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)], -23.0, -23.0, -23.0),
    "3341-5": ([(-26, 20), (-20, 20.1), (-26, 20)], -23.0, -20.0, -20.0),
}


@pytest.mark.parametrize("case", sorted(LOUDNESS_CASES))
def test_tech3341_integrated_and_maxima(tmp_path: Path, case: str) -> None:
    steps, integrated, momentary, short_term = LOUDNESS_CASES[case]
    a = analyse(tmp_path, sine_steps(steps))
    assert a.integrated_lufs == pytest.approx(integrated, abs=0.1)
    assert a.momentary_max_lufs == pytest.approx(momentary, abs=0.1)
    assert a.short_term_max_lufs == pytest.approx(short_term, abs=0.1)


def test_tech3341_case9_short_term_constant(tmp_path: Path) -> None:
    from ming_edit.dsp.loudness.analysis import SHORT_TERM_HOPS, window_levels
    from ming_edit.dsp.loudness.meter import measure

    audio = sine_steps([(-20, 1.34), (-30, 1.66)] * 6)
    levels = window_levels(measure(audio, RATE), SHORT_TERM_HOPS)  # one per 3 s window inside the signal
    assert np.abs(levels - -23.0).max() <= 0.1
    assert analyse(tmp_path, audio).short_term_max_lufs == pytest.approx(-23.0, abs=0.1)


def test_tech3341_case12_momentary_constant(tmp_path: Path) -> None:
    from ming_edit.dsp.loudness.analysis import MOMENTARY_HOPS, window_levels
    from ming_edit.dsp.loudness.meter import measure

    audio = sine_steps([(-20, 0.18), (-30, 0.22)] * 25)
    levels = window_levels(measure(audio, RATE), MOMENTARY_HOPS)  # window k ends at (k + 4) * 100 ms
    assert np.abs(levels[6:] - -23.0).max() <= 0.1
    assert analyse(tmp_path, audio).momentary_max_lufs == pytest.approx(-23.0, abs=0.1)


TRUE_PEAK_CASES = {  # case: (signal, expected dBTP)
    "3341-15": (lambda: ramped_tone(RATE / 4, 0.5, 0.0), -6.0),
    "3341-16": (lambda: ramped_tone(RATE / 4, 0.5, 45.0), -6.0),
    "3341-17": (lambda: ramped_tone(RATE / 6, 0.5, 60.0), -6.0),
    "3341-18": (lambda: ramped_tone(RATE / 8, 0.5, 67.5), -6.0),
    "3341-19": (lambda: ramped_tone(RATE / 4, 1.41, 45.0), 3.0),
    "3341-20 (stand-in)": (lambda: pulse(0.0), 0.0),
    "3341-21 (stand-in)": (lambda: pulse(0.5), 0.0),
    "3341-22 (stand-in)": (lambda: ramped_tone(RATE / 3, 1.0, 0.0), 0.0),
    "3341-23 (stand-in)": (lambda: ramped_tone(3 * RATE / 8, 1.0, 22.5), 0.0),
}


@pytest.mark.parametrize("case", list(TRUE_PEAK_CASES))
def test_tech3341_true_peak(tmp_path: Path, case: str) -> None:
    make, expected = TRUE_PEAK_CASES[case]
    audio = make()
    a = analyse(tmp_path, audio)
    assert expected - 0.4 <= a.true_peak_dbtp <= expected + 0.2, a.true_peak_dbtp
    assert a.sample_peak_dbfs <= a.true_peak_dbtp + 1e-6
    assert a.sample_peak_dbfs == pytest.approx(20 * np.log10(np.abs(audio).max()), abs=1e-3)


def test_abrupt_onsets_overshoot() -> None:
    """The reading documented in the module docstring: a tone switched on and off abruptly has
    inter-sample peaks above its crest at the edges (Gibbs), which an exact meter reports."""
    from ming_edit.dsp.loudness.analysis import analyse as analyse_array

    n = np.arange(RATE)
    mono = 0.5 * np.sin(2 * np.pi * n / 8 + np.deg2rad(67.5))
    assert analyse_array(np.stack([mono, mono], axis=1), RATE).true_peak_dbtp > -6.0 + 0.2


LRA_CASES = {
    "3342-1": ([(-20, 20), (-30, 20)], 10.0),
    "3342-2": ([(-20, 20), (-15, 20)], 5.0),
    "3342-3": ([(-40, 20), (-20, 20)], 20.0),
    "3342-4": ([(-50, 20), (-35, 20), (-20, 20), (-35, 20), (-50, 20)], 15.0),
}


@pytest.mark.parametrize("case", sorted(LRA_CASES))
def test_tech3342_loudness_range(tmp_path: Path, case: str) -> None:
    steps, expected = LRA_CASES[case]
    assert analyse(tmp_path, sine_steps(steps)).lra_lu == pytest.approx(expected, abs=1.0)


def test_chunked_pass_equals_one_chunk() -> None:
    """Small chunks (true peak and statistics across chunk edges, a partial last chunk) give the
    figures of one big chunk; the per-hop array grows when more frames come than announced."""
    from ming_edit.dsp.loudness.analysis import Analyzer

    rng = np.random.default_rng(3)
    audio = 0.2 * rng.standard_normal((RATE * 5 + 123, 2)) * np.linspace(0.1, 1.0, RATE * 5 + 123)[:, None]
    audio[RATE * 2 + 7, 1] = 0.99  # a click near a chunk edge
    results = []
    for chunk, announced, threads in ((1 << 20, len(audio), 1), (8192, 1000, 2), (4096, 0, 1)):
        analyzer = Analyzer(RATE, 2, announced, chunk=chunk, threads=threads)
        for start in range(0, len(audio), 3001):
            analyzer.feed(audio[start : start + 3001])
        results.append(analyzer.finish())
    for other in results[1:]:
        assert other.frames == results[0].frames == len(audio)
        for name in ("integrated_lufs", "lra_lu", "momentary_max_lufs", "short_term_max_lufs", "true_peak_dbtp",
                     "sample_peak_dbfs", "noise_floor_dbfs", "pause_share"):
            assert getattr(other, name) == pytest.approx(getattr(results[0], name), abs=1e-6), name


def test_clipped_samples_and_levels(tmp_path: Path) -> None:
    from ming_edit.pipelines.info import analyse_file

    audio = 0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE)
    audio[1000:1010] = 1.0
    audio[2000:2003] = -1.0
    path = tmp_path / "clipped.wav"
    sf.write(str(path), np.stack([audio, 0.5 * audio], axis=1), RATE, subtype="PCM_16")
    a = analyse_file(path).loudness
    assert a.clipped_samples == 13  # +1.0 is stored as 32767, -1.0 as -32768: both full scale
    assert a.sample_peak_dbfs == pytest.approx(0.0, abs=1e-3)


def test_speech_matches_meter_and_pyloudnorm() -> None:
    """Integrated loudness of a real clip equals ming_edit's meter and pyloudnorm within 0.01 LU."""
    pyloudnorm = pytest.importorskip("pyloudnorm")
    from ming_edit.dsp.loudness.meter import integrated_loudness
    from ming_edit.io.audio import read_audio
    from ming_edit.pipelines.info import analyse_file

    path = REPO / "examples" / "speech_en.wav"
    audio, info = read_audio(path)
    got = analyse_file(path).loudness
    assert got.integrated_lufs == pytest.approx(integrated_loudness(audio, info.sample_rate), abs=0.01)
    assert got.integrated_lufs == pytest.approx(pyloudnorm.Meter(info.sample_rate).integrated_loudness(audio), abs=0.01)
    assert 0.0 < got.pause_share < 0.6 and got.noise_floor_dbfs < got.integrated_lufs - 20


# --- the command -----------------------------------------------------------------------------------


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ming-edit: error: "), result.stderr
    return lines[0]


def test_one_file_human_and_json(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "talk.wav", seconds=2.0, sr=RATE, channels=2)
    human = invoke(["info", clip])
    assert human.exit_code == 0, human.stderr
    for word in ("integrated", "LUFS", "loudness range", "true peak", "dBTP", "noise floor", "clipped", "PCM_16"):
        assert word in human.stdout
    done = invoke(["info", clip, "--json"])
    assert done.exit_code == 0, done.stderr
    obj = json.loads(done.stdout)
    from ming_edit.pipelines.info import JSON_KEYS

    assert isinstance(obj, dict) and REQUIRED_KEYS <= set(obj) and tuple(obj) == JSON_KEYS
    assert obj["sample_rate"] == RATE and obj["channels"] == 2 and obj["format"] == "WAV" and obj["subtype"] == "PCM_16"
    assert obj["duration"] == pytest.approx(2.0)
    assert obj["true_peak_dbtp"] >= obj["sample_peak_dbfs"] and obj["clipped_samples"] == 0


def test_several_files_and_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    (folder / "sub").mkdir(parents=True)
    a = write_tone(folder / "a.wav", seconds=1.0)
    write_tone(folder / "sub" / "b.flac", seconds=1.5, sr=24000)
    (folder / "notes.txt").write_text("not audio")
    listing = invoke(["info", a, folder / "sub" / "b.flac", "--json"])
    assert listing.exit_code == 0, listing.stderr
    objs = json.loads(listing.stdout)
    assert [Path(o["file"]).name for o in objs] == ["a.wav", "b.flac"] and all(REQUIRED_KEYS <= set(o) for o in objs)
    walked = invoke(["info", folder, "--json"])
    assert walked.exit_code == 0, walked.stderr
    assert sorted(Path(o["file"]).name for o in json.loads(walked.stdout)) == ["a.wav", "b.flac"]
    table = invoke(["info", folder])
    assert table.exit_code == 0 and "a.wav" in table.stdout and "b.flac" in table.stdout and "LUFS" in table.stdout
    single = invoke(["info", folder / "sub", "--json"])  # a folder is always a list
    assert isinstance(json.loads(single.stdout), list)


def test_silence_is_null_in_json_and_silent_in_text(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros((RATE, 2)), RATE, subtype="PCM_16")
    obj = json.loads(invoke(["info", path, "--json"]).stdout)
    for key in ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "true_peak_dbtp", "sample_peak_dbfs",
                "noise_floor_dbfs"):
        assert obj[key] is None, key
    assert obj["lra_lu"] == 0.0 and obj["pause_share"] == 1.0
    text = invoke(["info", path]).stdout
    assert "silent" in text and "nan" not in text.lower()
    both = invoke(["info", path, write_tone(tmp_path / "tone.wav")])
    assert both.exit_code == 0 and "-inf" in both.stdout


def test_folder_without_audio(tmp_path: Path) -> None:
    empty = tmp_path / "docs"
    empty.mkdir()
    (empty / "readme.txt").write_text("hello")
    done = invoke(["info", empty])
    assert done.exit_code == 1 and done.stdout == ""
    assert "no audio files" in _one_line_error(done) and str(empty) in done.stderr


def test_missing_and_non_audio_files(tmp_path: Path) -> None:
    missing = invoke(["info", tmp_path / "nope.wav"])
    assert missing.exit_code == 1 and "no such file" in _one_line_error(missing)
    fake = tmp_path / "fake.wav"
    fake.write_text("this is not audio\n" * 20)
    bad = invoke(["info", fake, "--json"])
    assert bad.exit_code == 1 and bad.stdout == "" and "not a readable audio file" in _one_line_error(bad)
    good = write_tone(tmp_path / "good.wav")
    mixed = invoke(["info", good, fake, "--json"])  # several: the readable ones are still reported
    assert mixed.exit_code == 1 and "fake.wav" in _one_line_error(mixed)
    assert [Path(o["file"]).name for o in json.loads(mixed.stdout)] == ["good.wav"]


def test_process_imports_no_torch_or_rich_for_one_file(tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav")
    probe = ("import json, sys\nsys.argv = ['ming-edit', 'info', sys.argv[1], '--json']\n"
             "import ming_edit.cli.app as app\nstart = 'numpy' in sys.modules\n"
             "try:\n    app.main()\nexcept SystemExit as done:\n    code = done.code\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'rich', 'scipy', 'pyloudnorm'})\n"
             "print(json.dumps({'code': code, 'heavy': heavy, 'numpy_at_start': start}), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe, str(clip)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == {"code": 0, "heavy": [], "numpy_at_start": False}
    assert REQUIRED_KEYS <= set(json.loads(done.stdout))


def test_plan_figures_for_dry_runs() -> None:
    """The helper `edit --dry-run` can call: measured figures the plan depends on, as lines and JSON."""
    from ming_edit.ops.operation import Operation
    from ming_edit.pipelines.info import analyse_file, plan_figures

    path = REPO / "examples" / "speech_en.wav"
    measured = analyse_file(path).loudness
    figures, lines = plan_figures(path, [Operation("loudness", {"lufs": -16.0, "true_peak_db": -1.0})])
    assert figures["integrated_lufs"] == pytest.approx(measured.integrated_lufs, abs=1e-3)
    assert len(lines) == 1 and f"{measured.integrated_lufs:.1f} LUFS" in lines[0]
    assert f"{-16.0 - measured.integrated_lufs:+.1f} dB" in lines[0]
    figures, lines = plan_figures(path, [Operation("denoise", {})])  # nothing measured: the header only
    assert lines == [] and set(figures) == {"duration"}
