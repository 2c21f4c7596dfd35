"""Text to speech (`speak`) and zero-shot voice cloning (`clone`).

Long text is spoken sentence by sentence in the reference voice, joined with short pauses. Audio
is streamed into the atomic writer while it is generated: a failure never leaves a partial output.

Limits, checked before the model loads (one UsageError line, exit 2):
* the text: at most MAX_TEXT_CHARS (20,000) characters after whitespace is collapsed (about 20-40
  minutes of speech); longer text is refused with how to split it;
* the reference transcript (--voice-text / --ref-text): at most MAX_REFERENCE_TEXT_CHARS (2,000);
  a 30 s clip holds a few hundred characters, and the transcript is repeated in every sentence's prompt;
* neither may contain a control-token string of the checkpoint's tokenizer (``<|endoftext|>``,
  ``<gen_audioPatch>``, ``<audio>``, ``<role>``, ...): it would be read as a command, not spoken.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ming_edit.errors import AudioError, UsageError
from ming_edit.io import files, formats
from ming_edit.io.writer import AudioStream, audio_stream
from ming_edit.model import session
from ming_edit.model.config import MODEL_SAMPLE_RATE
from ming_edit.options import ModelOptions, ProgressCallback, SpeakOptions, SpeakResult
from ming_edit.speech.text import has_speakable_content, is_cjk_text, split_sentences, unsupported_letters
from ming_edit.speech.vad import is_silent

MIN_REFERENCE_SECONDS = 1.0
MAX_REFERENCE_SECONDS = 30.0
MAX_TEXT_CHARS = 20_000
MAX_REFERENCE_TEXT_CHARS = 2_000


def default_voice() -> tuple[Path, str]:
    """The built-in voice: a short MIT-licensed clip from upstream's repository and its transcript."""
    data = resources.files("ming_edit").joinpath("data")
    meta = json.loads(data.joinpath("default_voice.json").read_text(encoding="utf-8"))
    return Path(str(data.joinpath(meta["file"]))), meta["text"]


def check_text(text: str) -> str:
    """Normalised text to speak, or UsageError for text that cannot be spoken."""
    text = " ".join(text.split())
    if not text:
        raise UsageError("nothing to say: the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"the text is {len(text):,} characters; speak takes at most {MAX_TEXT_CHARS:,} per run: "
                         "split it (e.g. at paragraphs) and speak each part to its own file")
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
    formats.generated_format(output)
    if output.is_dir():
        raise UsageError(f"-o {output} is a folder; give an audio file name")
    try:
        files.check_output_path(Path(reference), output, overwrite=overwrite)
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


def check_control_tokens(model: ModelOptions, text: str, reference_text: str | None) -> None:
    """Refuse control-token strings in the user's text with the checkpoint's own tokenizer, before
    the weights load (prompts.tts_prompt checks again)."""
    from ming_edit.model.hub import text_tokenizer_for
    from ming_edit.model.text_tokenizer import check_tts_text

    check_tts_text(text_tokenizer_for(model.model, "tts"), text, reference_text)


def check_reference(mono16k: np.ndarray, source: str) -> None:
    seconds = len(mono16k) / MODEL_SAMPLE_RATE
    if seconds < MIN_REFERENCE_SECONDS:
        raise AudioError(f"{source}: the reference clip is {seconds:.2f} s; use at least {MIN_REFERENCE_SECONDS:g} s of speech")
    if seconds > MAX_REFERENCE_SECONDS:
        raise AudioError(f"{source}: the reference clip is {seconds:.1f} s; use 3-20 s of speech")
    if is_silent(mono16k, MODEL_SAMPLE_RATE, -50.0):
        raise AudioError(f"{source}: the reference clip is silent")


def synthesize(
    text: str,
    output: Path,
    *,
    reference: Path,
    reference_text: str | None,
    options: SpeakOptions = SpeakOptions(),
    model: ModelOptions = ModelOptions(),
    noise: Any = None,
    on_progress: ProgressCallback | None = None,
) -> SpeakResult:
    """Speak ``text`` in the voice of ``reference`` into ``output``; transcribe the reference first
    when ``reference_text`` is None (same loaded model). Checks everything before the model loads."""
    text = check_text(text)
    output, reference = Path(output), Path(reference)
    check_output(output, reference, overwrite=options.overwrite)
    ref16k, _, _, _ = session.load_for_model(reference)
    check_reference(ref16k, str(reference))
    if reference_text is not None and not reference_text.strip():
        raise UsageError("the reference transcript is empty; leave it out to transcribe the clip")
    if reference_text is not None and len(reference_text) > MAX_REFERENCE_TEXT_CHARS:
        raise UsageError(f"the reference transcript is {len(reference_text):,} characters; the limit is "
                         f"{MAX_REFERENCE_TEXT_CHARS:,} (it should say what the 1-30 s clip says)")
    check_control_tokens(model, text, reference_text)

    stack = session.open_stack(model, "tts")
    check_tokenizable(stack.text_tokenizer, text)
    noise = noise if noise is not None else session.make_noise(model.seed)
    transcribed = reference_text is None
    if transcribed:
        from ming_edit.pipelines.transcribe import Transcriber

        reference_text = Transcriber(stack, noise).transcribe_array(ref16k, source=str(reference)).text
        if not reference_text.strip():
            raise AudioError(f"{reference}: could not transcribe the reference clip; pass its transcript")

    sentences = split_sentences(text)
    fmt, subtype = formats.generated_format(output)
    task = f"speaking {len(sentences)} sentence(s)"
    rate = options.sample_rate or MODEL_SAMPLE_RATE
    with audio_stream(output, rate, fmt=fmt, subtype=subtype) as stream:
        for index, sentence in enumerate(sentences):
            if on_progress is not None:
                on_progress(task, index, len(sentences))
            if index and options.pause > 0:
                stream.write(np.zeros(int(round(options.pause * rate)), dtype=np.float32))
            _speak_sentence(stack, sentence, ref16k, reference_text.strip(), stream, noise, options.cfg)
        if on_progress is not None:
            on_progress(task, len(sentences), len(sentences))
        duration = stream.frames / rate
    return SpeakResult(output, duration, rate, len(sentences), reference_text.strip(), transcribed,
                       clipped_samples=stream.clipped)


def _speak_sentence(stack: Any, sentence: str, ref16k: np.ndarray, ref_text: str,
                    stream: AudioStream, noise: Any, cfg: float) -> None:
    """One generate_tts call; at 16 kHz every decoded patch goes straight to the file, at other
    rates the sentence is resampled whole (sentence edges are silence, so no seams)."""
    from ming_edit.dsp.convert import resample
    from ming_edit.model.tts import generate_tts

    direct = stream.sample_rate == MODEL_SAMPLE_RATE
    pieces: list[np.ndarray] = []

    def on_audio(chunk: Any) -> None:
        samples = chunk.numpy()
        stream.write(samples) if direct else pieces.append(samples)

    with session.oom_guard():
        generate_tts(
            stack, sentence, session.waveform_tensor(ref16k, stack.device), ref_text,
            patch_size=session.patch_size(Path(stack.path)), lang="zh" if is_cjk_text(sentence) else "en",
            cfg=cfg, noise=noise, on_audio=on_audio,
        )
    if not direct and pieces:
        stream.write(resample(np.concatenate(pieces).astype(np.float64), MODEL_SAMPLE_RATE, stream.sample_rate))


def speak(text: str, output: Path, *, voice: Path | None = None, voice_text: str | None = None,
          options: SpeakOptions = SpeakOptions(), model: ModelOptions = ModelOptions(),
          on_progress: ProgressCallback | None = None) -> SpeakResult:
    """TTS in the built-in voice, or in the voice of ``voice`` (transcribed if ``voice_text`` is None)."""
    if voice is None:
        if voice_text is not None:
            raise UsageError("--voice-text needs --voice")
        voice, voice_text = default_voice()
    return synthesize(text, output, reference=voice, reference_text=voice_text, options=options, model=model,
                      on_progress=on_progress)


def clone(reference: Path, text: str, output: Path, *, ref_text: str | None = None,
          options: SpeakOptions = SpeakOptions(), model: ModelOptions = ModelOptions(),
          on_progress: ProgressCallback | None = None) -> SpeakResult:
    """Zero-shot cloning: speak ``text`` in the voice of ``reference``."""
    return synthesize(text, output, reference=reference, reference_text=ref_text, options=options, model=model,
                      on_progress=on_progress)
