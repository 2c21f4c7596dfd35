"""Measured bitrate of mp3 / opus outputs against what was asked (`--bitrate` and the defaults).

libsndfile sets lossy encoders by a compression level, not a bitrate; io/formats.encoder_settings
maps one to the other. This writes 20 s of speech-band noise per case through the real writer and
reports requested vs measured kbps (file size * 8 / duration).

    python benchmarks/encoder_bitrate.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ming_edit.io.writer import write_audio

CASES = [  # (subtype, sample rate, channels, kbps or None for the default)
    ("MPEG_LAYER_III", 44100, 1, None), ("MPEG_LAYER_III", 44100, 2, None), ("MPEG_LAYER_III", 48000, 2, 96),
    ("MPEG_LAYER_III", 16000, 1, None), ("MPEG_LAYER_III", 16000, 1, 64), ("MPEG_LAYER_III", 8000, 1, 32),
    ("OPUS", 48000, 1, None), ("OPUS", 48000, 2, None), ("OPUS", 16000, 1, 32),
]


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'codec':<15} {'rate':>6} {'ch':>3} {'asked':>6} {'measured':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for subtype, rate, channels, kbps in CASES:
            audio = 0.1 * rng.standard_normal((20 * rate, channels))
            fmt, ext = ("MP3", "mp3") if subtype == "MPEG_LAYER_III" else ("OGG", "opus")
            path = Path(tmp) / f"x.{ext}"
            write_audio(path, audio, rate, fmt=fmt, subtype=subtype, kbps=kbps)
            measured = path.stat().st_size * 8 / 20 / 1000
            print(f"{subtype:<15} {rate:>6} {channels:>3} {str(kbps or 'default'):>6} {measured:>9.1f}")


if __name__ == "__main__":
    main()
