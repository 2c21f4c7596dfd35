"""Streamed denoise (two passes over blocks) equals the in-memory denoise(), at constant memory."""

from __future__ import annotations

import itertools
import tracemalloc
from typing import Iterator

import numpy as np
import pytest

from ming_edit.dsp.denoise import FRAME_S, NOISE_WINDOW_S, BlockDenoiser, DenoiseStats, denoise, denoise_blocks
from ming_edit.dsp.stft import Stft
from ming_edit.errors import AudioError

SR = 16000
HOP, FRAME = Stft(SR, FRAME_S).hop, Stft(SR, FRAME_S).frame
HALF = round(NOISE_WINDOW_S / 2 * SR / HOP)  # STFT frames per half noise window
CHUNK = BlockDenoiser(DenoiseStats(SR, 1)).chunk  # STFT frames per pass-2 chunk


def frames_for(stft_frames: int) -> int:
    """The shortest signal with this many STFT frames (ceil(n / hop) + 3)."""
    return (stft_frames - 4) * HOP + 1


def blocks_of(audio: np.ndarray, sizes: list[int]) -> Iterator[np.ndarray]:
    pos = 0
    for size in itertools.cycle(sizes):
        if pos >= len(audio):
            return
        yield audio[pos : pos + size]
        pos += size


def streamed(audio: np.ndarray, sample_rate: int, sizes: list[int]) -> np.ndarray:
    stats = DenoiseStats.measure(blocks_of(audio, sizes), sample_rate, audio.shape[1])
    outs = list(denoise_blocks(blocks_of(audio, sizes), stats))
    return np.concatenate(outs) if outs else np.empty((0, audio.shape[1]))


def assert_streams_exactly(audio: np.ndarray, sample_rate: int, *block_sizes: list[int]) -> None:
    reference = denoise(audio, sample_rate)
    for sizes in block_sizes:
        out = streamed(audio, sample_rate, sizes)
        assert out.shape == audio.shape, sizes
        assert np.abs(out - reference).max(initial=0.0) <= 1e-9, sizes


@pytest.fixture(scope="module")
def bench(speech_bench):
    return speech_bench


@pytest.fixture(scope="module")
def speech(bench) -> np.ndarray:
    voices = ("en-gb", "en-us", "en-us+f3", "en-gb-scotland+m3")
    return np.concatenate([bench.espeak(text, voice) for text, voice in zip(bench.SENTENCES, voices)])  # ~19.5 s


@pytest.fixture(scope="module")
def noisy(bench, speech: np.ndarray) -> np.ndarray:
    return bench.mix_at_snr(speech, bench.coloured_noise(len(speech), "pink", seed=4), 5.0)


@pytest.fixture(scope="module")
def long_noisy(bench, noisy: np.ndarray) -> np.ndarray:
    """Past one pass-2 chunk (~33 s), mono [frames, 1]."""
    audio = np.concatenate([noisy, 0.7 * noisy[::-1]])
    assert len(audio) > frames_for(CHUNK + 2)
    return audio[:, None]


@pytest.mark.parametrize("sizes", [[1000], [65536], [4093, 17, 30011, 1, 512], [10**9]])
def test_any_block_sizes_give_the_in_memory_result(long_noisy: np.ndarray, sizes: list[int]) -> None:
    assert_streams_exactly(long_noisy, SR, sizes)


@pytest.mark.parametrize("seconds", [3.0, 8.5])  # one noise window; several
def test_one_frame_blocks(noisy: np.ndarray, seconds: float) -> None:
    assert_streams_exactly(noisy[: int(seconds * SR), None], SR, [1])


@pytest.mark.parametrize(
    "length",
    [
        FRAME - 1,  # passes through
        FRAME,
        FRAME + 1,
        frames_for(4 * HALF) - 1,  # the last one-window clip (< 8 s)
        frames_for(4 * HALF),  # the first with windows of two halves
        frames_for(5 * HALF),  # the last window ends on the last frame
        frames_for(CHUNK) - 1,
        frames_for(CHUNK + 1),  # one frame past the first chunk
    ],
)
def test_lengths_at_frame_window_and_chunk_boundaries(long_noisy: np.ndarray, length: int) -> None:
    assert_streams_exactly(long_noisy[:length], SR, [333, 4096], [HALF * HOP], [CHUNK * HOP])


def test_channels_silence_and_dc(speech: np.ndarray, noisy: np.ndarray) -> None:
    ten_s = 10 * SR
    six = np.stack([noisy, speech, 0.5 * noisy, noisy[::-1], np.zeros_like(speech), 0.1 * speech + 0.01], axis=1)
    cases = {
        "stereo": np.stack([noisy, speech], axis=1),
        "six": six[:ten_s],
        "silence": np.zeros((ten_s, 2)),
        "dc": np.full((ten_s, 1), 0.3),
        "silent left": np.stack([np.zeros(ten_s), noisy[:ten_s]], axis=1),
    }
    for name, audio in cases.items():
        reference = denoise(audio, SR)
        for sizes in ([4096], [777, 65536]):
            out = streamed(audio, SR, sizes)
            assert out.shape == audio.shape and np.abs(out - reference).max() <= 1e-9, (name, sizes)


def test_upstream_recordings(bench) -> None:
    clips = bench.upstream_clips()
    if not clips:
        pytest.skip("no upstream recordings")
    for name, audio, sample_rate in clips:  # 16 and 24 kHz speech, 1.6-12 s
        reference = denoise(audio, sample_rate)
        out = streamed(audio, sample_rate, [4001])
        assert out.shape == audio.shape and np.abs(out - reference).max() <= 1e-9, name


def test_output_lags_by_at_most_lag(long_noisy: np.ndarray) -> None:
    stats = DenoiseStats.measure([long_noisy], SR, 1)
    denoiser = BlockDenoiser(stats)
    fed = emitted = 0
    for block in blocks_of(long_noisy, [4096]):
        fed += len(block)
        emitted += len(denoiser.process(block))
        assert fed - emitted <= denoiser.lag
    assert emitted > 0
    assert emitted + len(denoiser.finish()) == len(long_noisy)


def test_a_second_pass_that_differs_is_an_error(noisy: np.ndarray) -> None:
    audio = noisy[: 2 * SR, None]
    stats = DenoiseStats.measure([audio], SR, 1)
    with pytest.raises(AudioError):
        BlockDenoiser(stats).process(np.concatenate([audio, audio]))
    short = BlockDenoiser(stats)
    short.process(audio[:SR])
    with pytest.raises(AudioError):
        short.finish()
    with pytest.raises(AudioError):
        BlockDenoiser(stats).process(np.zeros((10, 2)))
    with pytest.raises(AudioError):
        stats.add(np.zeros(10))
    done = BlockDenoiser(stats)
    done.process(audio)
    done.finish()
    with pytest.raises(AudioError):
        done.process(audio[:1])


def _traced_bytes(seconds: float, sample_rate: int = 48000) -> tuple[int, int]:
    """(peak, held between blocks) over both passes on ``seconds`` of 48 kHz stereo tone bursts in
    noise, in 2^16-frame blocks."""
    pool = np.random.default_rng(0).standard_normal((1 << 18, 2)) * 0.01

    def blocks() -> Iterator[np.ndarray]:
        total, size = int(seconds * sample_rate), 1 << 16
        for start in range(0, total, size):
            t = (start + np.arange(min(size, total - start))) / sample_rate
            tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.3 * t) > 0)
            offset = (start * 7) % (len(pool) - size)
            yield pool[offset : offset + len(t)] + tone[:, None]

    tracemalloc.start()
    try:
        denoiser = BlockDenoiser(DenoiseStats.measure(blocks(), sample_rate, 2))
        count, held = 0, 0
        for block in blocks():
            count += len(denoiser.process(block))
            held = max(held, tracemalloc.get_traced_memory()[0])
        count += len(denoiser.finish())
        assert count == int(seconds * sample_rate)
        return tracemalloc.get_traced_memory()[1], held
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_length() -> None:
    (short_peak, short_held), (long_peak, long_held) = _traced_bytes(20.0), _traced_bytes(180.0)
    # measured: held ~20 MB (+-0.7 MB with the phase of the noise windows), peak ~120 MB (a chunk's
    # working set) for both; noise PSDs kept for every window would hold 2.3 MB more at 3 minutes
    assert long_held - short_held < 2**20
    assert long_peak - short_peak < 2**20
    assert long_peak < 200 * 2**20
