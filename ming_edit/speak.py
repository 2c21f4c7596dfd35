"""Text to speech (`speak`) and zero-shot voice cloning (`clone`).

Long text is spoken sentence by sentence in the reference voice, joined with short pauses. Audio
is written while it is generated, into a temporary file next to the output that is renamed at the
end: a failure never leaves a partial output behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ming_edit import runtime
from ming_edit.errors import AudioError, UsageError
from ming_edit.segment import has_speakable_content, is_cjk_text, is_silent, split_sentences

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 30.0
DEFAULT_CFG = 2.0  # upstream generate_tts


@dataclass
class SpeakResult:
    output: Path
    duration: float  # seconds written
    sample_rate: int
    sentences: int
    reference_text: str
    reference_text_transcribed: bool  # True when the reference transcript came from the model
    clipped_samples: int = 0  # generated samples beyond full scale, clipped in the streamed file


def default_voice() -> tuple[Path, str]:
    """The built-in voice: a short MIT-licensed clip from upstream's repository and its transcript."""
    data = resources.files("ming_edit").joinpath("data")
    meta = json.loads(data.joinpath("default_voice.json").read_text(encoding="utf-8"))
    return Path(str(data.joinpath(meta["file"]))), meta["text"]


def output_format(path: Path) -> tuple[str, str]:
    """(container, sample format) for an output path: 16-bit PCM where the container has it."""
    import soundfile as sf

    from ming_edit import audio_io

    fmt = audio_io.output_format(Path(path))
    return fmt, "PCM_16" if sf.check_format(fmt, "PCM_16") else sf.default_subtype(fmt)


# Ming-UniAudio speaks Mandarin (and dialects) and English: letters of other scripts are refused
# rather than turned into gibberish. Latin covers accented names ("café"); CJK covers Han characters.
_SPOKEN_SCRIPTS = ("LATIN", "FULLWIDTH LATIN", "CJK", "IDEOGRAPHIC")


def unsupported_letters(text: str) -> list[str]:
    """Letters (Unicode category L*) outside the scripts the model speaks, in order of appearance."""
    bad: list[str] = []
    for ch in text:
        if unicodedata.category(ch).startswith("L") and ch not in bad:
            if not unicodedata.name(ch, "").startswith(_SPOKEN_SCRIPTS):
                bad.append(ch)
    return bad


def check_text(text: str) -> str:
    """Normalised text to speak, or UsageError for text that cannot be spoken."""
    text = " ".join(text.split())
    if not text:
        raise UsageError("nothing to say: the text is empty")
    if not has_speakable_content(text):
        raise UsageError("the text has nothing speakable (only symbols, punctuation or emoji)")
    bad = unsupported_letters(text)
    if bad:
        words = [w for w in text.split() if any(ch in bad for ch in w)]
        shown = " ".join(words[:3]) + (" ..." if len(words) > 3 else "")
        raise UsageError(f"the model speaks Chinese and English; this text uses another script: {shown}")
    return text


def check_output(output: Path, reference: Path, *, overwrite: bool) -> None:
    """The same output rules as `edit`: never the reference clip, an existing folder, no silent
    replacement of an existing file."""
    from ming_edit.edit import check_output_path

    output_format(output)
    if output.is_dir():
        raise UsageError(f"-o {output} is a folder; give an audio file name")
    try:
        check_output_path(Path(reference), output, overwrite=overwrite)
    except UsageError as err:
        if "overwrite the input" in str(err):
            raise UsageError(f"-o {output} would overwrite the voice reference {reference}; choose another name") from None
        raise


def check_tokenizable(tokenizer: Any, text: str) -> None:
    """Reject characters the text tokenizer cannot represent (they would be dropped or unknown)."""
    bad = []
    for ch in sorted(set(text)):
        if ch.isspace() or not has_speakable_content(ch):
            continue
        if "".join(tokenizer.decode(tokenizer.encode(ch)).split()) != ch:
            bad.append(ch)
    if bad:
        raise UsageError(f"the text uses characters the model's tokenizer cannot represent: {''.join(bad[:10])}")


def check_reference(mono16k: np.ndarray, source: str) -> None:
    seconds = len(mono16k) / runtime.MODEL_SAMPLE_RATE
    if seconds < MIN_REFERENCE_SECONDS:
        raise AudioError(f"{source}: the reference clip is {seconds:.2f} s; use at least {MIN_REFERENCE_SECONDS:g} s of speech")
    if seconds > MAX_REFERENCE_SECONDS:
        raise AudioError(f"{source}: the reference clip is {seconds:.1f} s; use 3-20 s of speech")
    if is_silent(mono16k, -50.0):
        raise AudioError(f"{source}: the reference clip is silent")


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class StreamingWriter:
    """Appends float chunks to a temporary sound file; commit() renames it to the target."""

    def __init__(self, target: Path, sample_rate: int) -> None:
        import soundfile as sf

        self.target = Path(target)
        self.sample_rate = sample_rate
        fmt, subtype = output_format(self.target)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=".part", dir=self.target.parent)
        except OSError as err:  # read-only folder, permissions, disk full
            raise AudioError(f"cannot write {self.target}: {err.strerror or err}") from None
        os.close(fd)
        self.tmp = Path(tmp)
        self.frames = 0
        self.clipped = 0
        self.file = sf.SoundFile(str(self.tmp), "w", samplerate=sample_rate, channels=1, format=fmt, subtype=subtype)

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        over = np.abs(samples) > 1.0
        if over.any():  # streamed: it cannot be rescaled afterwards, so it is counted and reported
            self.clipped += int(over.sum())
            samples = np.clip(samples, -1.0, 1.0)
        if samples.size:
            self.file.write(samples)
            self.file.flush()
            self.frames += samples.size

    def commit(self) -> None:
        self.file.close()
        os.chmod(self.tmp, 0o666 & ~current_umask())  # mkstemp creates 0600; outputs get normal modes
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


def _prepare(model: Any, device: str, dtype: str | None) -> Any:
    from ming_edit.registry import resolve_model_dir

    torch_device = runtime.select_device(device)
    model_dir = resolve_model_dir(model, "tts")
    return runtime.get_stack(model_dir, "tts", torch_device, runtime.select_dtype(dtype, torch_device))


def synthesize(
    text: str,
    output: Path,
    *,
    reference: Path,
    reference_text: str | None,
    sample_rate: int = runtime.MODEL_SAMPLE_RATE,
    pause: float = 0.3,
    model: Any = None,
    device: str = "auto",
    dtype: str | None = None,
    seed: int | None = None,
    noise: Any = None,
    cfg: float = DEFAULT_CFG,
    show_progress: bool = True,
    overwrite: bool = False,
) -> SpeakResult:
    """Speak ``text`` in the voice of ``reference`` into ``output``; transcribe the reference first
    when ``reference_text`` is None (same loaded model). Checks everything before the model loads."""
    text = check_text(text)
    output = Path(output)
    check_output(output, Path(reference), overwrite=overwrite)
    ref16k, _, _, _ = runtime.load_for_model(Path(reference))
    check_reference(ref16k, str(reference))
    if reference_text is not None and not reference_text.strip():
        raise UsageError("the reference transcript is empty; leave it out to transcribe the clip")

    stack = _prepare(model, device, dtype)
    tokenizer = stack.text_tokenizer or runtime.load_text_tokenizer(Path(stack.path))
    check_tokenizable(tokenizer, text)
    noise = noise if noise is not None else runtime.make_noise(seed)
    transcribed = reference_text is None
    if transcribed:
        from ming_edit.transcribe import Transcriber

        transcript = Transcriber(stack=stack, noise=noise).transcribe_array(ref16k, source=str(reference))
        reference_text = transcript.text
        if not reference_text.strip():
            raise AudioError(f"{reference}: could not transcribe the reference clip; pass its transcript")

    sentences = split_sentences(text)
    writer = StreamingWriter(output, sample_rate)
    try:
        with runtime.progress(show_progress) as bar:
            task = bar.add_task(f"speaking {len(sentences)} sentence(s)", total=len(sentences))
            for index, sentence in enumerate(sentences):
                if index and pause > 0:
                    writer.write(np.zeros(int(round(pause * sample_rate)), dtype=np.float32))
                _speak_sentence(stack, sentence, ref16k, reference_text.strip(), writer, noise, cfg)
                bar.advance(task)
        duration = writer.frames / sample_rate
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return SpeakResult(output, duration, sample_rate, len(sentences), reference_text.strip(), transcribed,
                       clipped_samples=writer.clipped)


def _speak_sentence(stack: Any, sentence: str, ref16k: np.ndarray, ref_text: str,
                    writer: StreamingWriter, noise: Any, cfg: float) -> None:
    """One generate_tts call; at 16 kHz every decoded patch goes straight to the file, at other
    rates the sentence is resampled whole (sentence edges are silence, so no seams)."""
    from ming_edit.model.tts import generate_tts

    direct = writer.sample_rate == runtime.MODEL_SAMPLE_RATE
    pieces: list[np.ndarray] = []

    def on_audio(chunk: Any) -> None:
        samples = chunk.numpy()
        writer.write(samples) if direct else pieces.append(samples)

    with runtime.oom_guard():
        generate_tts(
            stack, sentence, runtime.waveform_tensor(ref16k, stack.device), ref_text,
            patch_size=runtime.patch_size(Path(stack.path)), lang="zh" if is_cjk_text(sentence) else "en",
            cfg=cfg, noise=noise, on_audio=on_audio,
        )
    if not direct and pieces:
        writer.write(runtime.resample(np.concatenate(pieces), runtime.MODEL_SAMPLE_RATE, writer.sample_rate))


def speak(
    text: str,
    output: Path,
    *,
    voice: Path | None = None,
    voice_text: str | None = None,
    **options: Any,
) -> SpeakResult:
    """TTS in the built-in voice, or in the voice of ``voice`` (transcribed if ``voice_text`` is None)."""
    if voice is None:
        if voice_text is not None:
            raise UsageError("--voice-text needs --voice")
        voice, voice_text = default_voice()
    return synthesize(text, output, reference=voice, reference_text=voice_text, **options)


def clone(reference: Path, text: str, output: Path, *, ref_text: str | None = None, **options: Any) -> SpeakResult:
    """Zero-shot cloning: speak ``text`` in the voice of ``reference``."""
    return synthesize(text, output, reference=reference, reference_text=ref_text, **options)
