"""The streamed DSP path (pipelines/stream_edit.py) gives what the in-memory path gives, in constant memory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ming_edit.dsp import tempo
from ming_edit.dsp.convert import resample
from ming_edit.errors import AudioError
from ming_edit.io import audio as audio_in
from ming_edit.options import EditOptions
from ming_edit.pipelines import stream_edit
from ming_edit.pipelines.edit import edit_file, make_plan

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("sox") is None, reason="sox binary not installed")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    audio, rate = sf.read(str(REPO / "examples" / "speech_en.wav"), dtype="float64")
    assert rate == 16000
    return audio


def episode(speech: np.ndarray, seconds: float, rate: int, stereo: bool) -> np.ndarray:
    """Real speech repeated (with pauses and level changes) to ``seconds`` at ``rate``."""
    voice = resample(speech, 16000, rate) if rate != 16000 else speech
    takes, level = [], 1.0
    while sum(map(len, takes)) < seconds * rate:
        takes += [voice * level, np.zeros(rate // 3)]
        level = 1.3 - level / 2
    mono = np.concatenate(takes)[: int(seconds * rate)]
    return np.stack([mono, -0.6 * np.roll(mono, 37)], axis=1) if stereo else mono[:, None]


def write(path: Path, audio: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    sf.write(str(path), audio, rate, subtype=subtype)
    return path


def both_paths(monkeypatch, tmp_path: Path, src: Path, instruction: str, subtype: str = "DOUBLE", **options):
    """(streamed result, in-memory result, streamed samples, in-memory samples) of one edit."""
    plan, opts = make_plan(instruction), EditOptions(subtype=subtype, **options)
    with monkeypatch.context() as m:  # the streamed path never decodes the whole file
        m.setattr(audio_in, "read_audio", lambda path: pytest.fail("decoded whole"))
        streamed = edit_file(src, plan, tmp_path / "streamed.wav", opts)
    with monkeypatch.context() as m:
        m.setattr(stream_edit, "can_stream", lambda plan, subtype=None: False)
        whole = edit_file(src, plan, tmp_path / "whole.wav", opts)
    a, _ = sf.read(str(streamed.output), dtype="float64", always_2d=True)
    b, _ = sf.read(str(whole.output), dtype="float64", always_2d=True)
    assert streamed.notes == whole.notes and streamed.clip_gain_db == whole.clip_gain_db
    assert (streamed.duration_in, streamed.duration_out) == (whole.duration_in, whole.duration_out)
    assert a.shape == b.shape
    return streamed, whole, a, b


@pytest.mark.parametrize("instruction,exact", [
    ("turn it down 3 dB", True),
    ("normalize peaks to -1 dB", True),
    ("make it mono", True),
    ("make it 20% faster", False),
    ("slow it down to 80%", False),
    ("raise the pitch by two semitones", False),
    ("resample to 16 kHz", False),
    ("normalize for podcasts", True),
    ("cut from 0:02 to 0:05", True),
    ("level the speakers, then normalize for podcasts", True),
    ("compress the dynamics", True),
    ("remove the rumble", True),
    ("remove the hum, then normalize for podcasts", True),
    ("master for podcasts", False),  # the high-pass is materialised (float32) before the leveler reads by range
    ("keep from 1.5 to 7.25 seconds", True),
    ("fade in over 2 seconds and fade out over 3 seconds", True),
    ("add 1 second of silence at the start", True),
    ("trim the silence at the start and the end", True),
    ("remove the long pauses", True),
    ("cut the first 3 seconds, then normalize for podcasts, then fade out", True),
    ("remove the long pauses, then make it 10% faster", False),
    ("remove the background noise", True),
    ("denoise gently", True),
    ("denoise, then make it 10% faster", False),
    ("denoise and normalize for podcasts", False),
    ("normalize to -23 LUFS -2 dBTP", True),
    ("normalize peaks to -1 dBTP", True),
    ("make it mono, then normalize for podcasts", True),
    ("resample to 44.1 kHz, then normalize to -14 LUFS, then make it 10% faster", False),
    ("make it mono, then resample to 22050 Hz, then make it 10% faster, then turn it down 2 dB, "
     "then normalize peaks to -3 dB, then lower the pitch by one semitone", False),
])
def test_streamed_equals_in_memory(monkeypatch, tmp_path: Path, speech: np.ndarray, instruction: str, exact: bool) -> None:
    src = write(tmp_path / "in.wav", episode(speech, 12.0, 48000, stereo=True), 48000)  # 9 blocks
    streamed, _, a, b = both_paths(monkeypatch, tmp_path, src, instruction)
    if exact:
        assert np.array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert streamed.notes or instruction == "make it mono"


@pytest.mark.parametrize("instruction", ["make it 25% faster", "raise the pitch by 3 semitones"])
def test_parallel_split_streams_the_same_pieces(monkeypatch, tmp_path: Path, speech: np.ndarray, instruction: str) -> None:
    monkeypatch.setattr(tempo, "_cpu_count", lambda: 2)  # the split, whatever this machine has
    audio = episode(speech, 70.0, 8000, stereo=False)
    assert tempo.piece_count(audio.shape[0], 8000) == 2
    src = write(tmp_path / "long.wav", audio, 8000)
    streamed, _, a, b = both_paths(monkeypatch, tmp_path, src, instruction)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    decoded, _ = sf.read(str(src), dtype="float64", always_2d=True)
    factor = 1.25 if "faster" in instruction else 1.0
    assert a.shape[0] == round(decoded.shape[0] * (1.0 / factor))


def test_energy_and_cuts_do_not_depend_on_blocks(speech: np.ndarray) -> None:
    audio = episode(speech, 70.0, 8000, stereo=True)
    meter = tempo.EnergyMeter(8000)
    for start in range(0, audio.shape[0], 12345):  # blocks that straddle frames
        meter.feed(audio[start : start + 12345])
    assert np.array_equal(meter.energy(), tempo.frame_energy(audio, 8000))
    cuts = tempo.quiet_cuts(meter.energy(), audio.shape[0], 8000, 2)
    assert cuts == tempo._quiet_cuts(audio, 8000, 2) and 0 < cuts[1] < audio.shape[0]


def test_clipping_is_scaled_with_the_note(monkeypatch, tmp_path: Path, speech: np.ndarray) -> None:
    src = write(tmp_path / "in.wav", episode(speech, 5.0, 16000, stereo=False), 16000)
    streamed, _, a, b = both_paths(monkeypatch, tmp_path, src, "louder by 12 dB", subtype="PCM_16")
    assert np.array_equal(a, b) and streamed.clip_gain_db < -8
    assert any("scaled by" in note and "-0.1 dBFS" in note for note in streamed.notes)


def test_clipping_found_while_writing_is_redone_scaled(monkeypatch, tmp_path: Path, speech: np.ndarray) -> None:
    loud = episode(speech, 10.0, 16000, stereo=False) * 2.5  # a float source beyond full scale
    src = write(tmp_path / "loud.wav", loud, 16000, subtype="FLOAT")
    streamed, _, a, b = both_paths(monkeypatch, tmp_path, src, "turn it down 1 dB", subtype="PCM_16")
    assert np.array_equal(a, b) and streamed.clip_gain_db < 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loud.wav", "streamed.wav", "whole.wav"]


@pytest.mark.parametrize("instruction", ["louder by 12 dB", "make it 10% faster"])
def test_no_limit_refuses_and_leaves_nothing(tmp_path: Path, speech: np.ndarray, instruction: str) -> None:
    src = write(tmp_path / "in.wav", episode(speech, 5.0, 16000, stereo=False) * 2.0, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="would clip"):
        edit_file(src, make_plan(instruction), tmp_path / "out.wav", EditOptions(subtype="PCM_16", no_limit=True))
    assert [p.name for p in tmp_path.iterdir()] == ["in.wav"]


@pytest.mark.parametrize("ext", ["wav", "flac"])
def test_truncated_input_is_refused_leaving_nothing(tmp_path: Path, speech: np.ndarray, ext: str) -> None:
    whole = tmp_path / f"whole.{ext}"
    sf.write(str(whole), episode(speech, 20.0, 16000, stereo=True), 16000, subtype="PCM_16")
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    whole.unlink()
    for instruction in ("turn it down 3 dB", "make it 10% faster"):
        with pytest.raises(AudioError, match="truncated|could not be decoded"):
            edit_file(cut, make_plan(instruction), tmp_path / "out.wav")
        assert [p.name for p in tmp_path.iterdir()] == [cut.name]


def test_nan_in_a_later_block_is_refused_with_its_time(tmp_path: Path, speech: np.ndarray) -> None:
    audio = episode(speech, 10.0, 16000, stereo=False)
    audio[123456] = np.nan
    src = write(tmp_path / "nan.wav", audio, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"NaN or infinite samples \(first at 7\.716 s\)"):
        edit_file(src, make_plan("make it 10% faster"), tmp_path / "out.wav")
    assert [p.name for p in tmp_path.iterdir()] == ["nan.wav"]


def test_progress_is_reported_per_pass_in_frames(tmp_path: Path, speech: np.ndarray) -> None:
    src = write(tmp_path / "talk.wav", episode(speech, 10.0, 16000, stereo=False), 16000)
    seen: dict[str, tuple[int, int | None]] = {}
    edit_file(src, make_plan("make it 25% faster"), tmp_path / "out.wav",
              on_progress=lambda task, done, total: seen.__setitem__(task, (done, total)))
    assert list(seen) == [f"editing talk.wav: pass {i}/3" for i in (1, 2, 3)]
    assert seen["editing talk.wav: pass 1/3"] == (160000, 160000)
    assert seen["editing talk.wav: pass 3/3"] == (128000, 128000)


def _children(pid: int) -> list[int]:
    """Child processes of every thread of ``pid`` (sox is started from worker threads)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_sigterm_mid_sox_removes_scratch_and_ends_sox(tmp_path: Path, speech: np.ndarray) -> None:
    src = write(tmp_path / "in.wav", episode(speech, 240.0, 48000, stereo=True), 48000)
    proc = subprocess.Popen([sys.executable, "-m", "ming_edit", "edit", str(src), "make it 10% faster", "-o",
                             str(tmp_path / "out.wav")], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline, soxes = time.monotonic() + 60, []
    while time.monotonic() < deadline and not soxes and proc.poll() is None:
        soxes = [c for c in _children(proc.pid) if _comm(c) == "sox"]
        time.sleep(0.05)
    assert soxes, "sox never started"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 143, stderr
    assert [p.name for p in tmp_path.iterdir()] == ["in.wav"]
    time.sleep(0.2)
    assert not [pid for pid in soxes if Path(f"/proc/{pid}").exists()]


def test_ten_minutes_of_48k_stereo_edit_in_constant_memory(tmp_path: Path) -> None:
    src, rate = tmp_path / "episode.wav", 48000
    rng = np.random.default_rng(7)
    with sf.SoundFile(str(src), "w", samplerate=rate, channels=2, subtype="PCM_16") as f:
        for _ in range(10 * 6):  # 10 s blocks: the test itself never holds the episode either
            t = np.arange(10 * rate) / rate
            voice = 0.3 * np.sin(2 * np.pi * 150 * t) * np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
            f.write(np.stack([voice, voice], axis=1) + 0.003 * rng.standard_normal((10 * rate, 2)))
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    for instruction in ("turn it down 3 dB", "make it mono"):
        cmd = [sys.executable, "-c", probe, sys.executable, "-m", "ming_edit", "edit", str(src), instruction,
               "-o", str(tmp_path / "out.wav"), "--overwrite"]
        code, max_kib = map(int, subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout.split())
        assert code == 0
        assert max_kib / 1024 < 150, f"{instruction}: peak RSS {max_kib / 1024:.0f} MiB"  # the float64 audio is 440 MiB
    assert sf.info(str(tmp_path / "out.wav")).frames == 10 * 60 * rate


def test_streamed_loudness_limits_like_in_memory(monkeypatch, tmp_path: Path, speech: np.ndarray) -> None:
    """A quiet speaker with loud clicks: +20 dB of gain, the limiter at work in many blocks."""
    audio = 0.1 * episode(speech, 20.0, 44100, stereo=True)
    audio[::88200] = 0.9  # a click every two seconds
    src = write(tmp_path / "quiet.wav", audio, 44100, subtype="FLOAT")
    streamed, _, a, b = both_paths(monkeypatch, tmp_path, src, "normalize to -16 LUFS -1.5 dBTP")
    assert np.array_equal(a, b)
    assert any("limited" in note for note in streamed.notes)
    from ming_edit.dsp.loudness.meter import integrated_loudness
    from ming_edit.dsp.loudness.truepeak import true_peak_dbtp

    assert abs(integrated_loudness(a, 44100) + 16.0) < 0.05 and true_peak_dbtp(a, 44100) <= -1.5
