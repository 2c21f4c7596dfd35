"""Text to speech / voice cloning (upstream ``generate_tts`` + ``sample_tokens``).

The prompt audio is encoded (posterior sample), cut to whole patches, embedded and spliced
after ``<audio>`` at the end of the TTS prompt. Each LLM call then yields one latent patch:
flow head on the last hidden state, latent_history starting as the last prompt patch, the
semantic cache continuing from the prompt audio. Every patch is decoded at once by the
streaming decoder, the stopping patch with last_chunk. Stop when the stop head says so at a
step index > 16 (so >= 18 patches) or when the patch budget runs out.

Budget: upstream allows (words // 3) * 25 patches ('zh': characters // 3 * 25), which is 0 for
texts under 3 words / characters. That budget is used unchanged whenever it is positive; a
shorter text gets MIN_TTS_PATCHES (the budget of a 3-word text) so any non-empty text is spoken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ming_edit.errors import AudioError, MingEditError
from ming_edit.model.patch_step import AudioStepper
from ming_edit.model.embedding import check_context, encode_for_generation, mono_batch
from ming_edit.model.embedding import splice_audio, stack_tokenizer, step_positions
from ming_edit.model.noise import NoiseSource
from ming_edit.model.prompts import tts_prompt
from ming_edit.model.rope import positions_from_attention_mask

PATCHES_PER_3_UNITS = 25
MIN_TTS_PATCHES = 25  # the budget upstream gives a 3-word text
MIN_STOP_STEP = 17  # upstream: stop only when step > 16 (0-based step index)


@dataclass
class TTSOutput:
    prompt_input_ids: torch.Tensor  # [1, L] the TTS prompt ids
    latents: torch.Tensor  # [1, n_patches * P, latent_dim]
    speech: torch.Tensor  # [1, samples] float32, 16 kHz (concatenated streaming chunks)
    step_hidden: torch.Tensor  # [1, n_patches, H] final-norm hidden state of each step
    stop_logits: torch.Tensor  # [n_patches, 2]
    stopped: bool  # True: the stop head ended it; False: the patch budget did


def upstream_patch_budget(text: str, lang: str) -> int:
    """sample_tokens' num_iter: characters // 3 * 25 for 'zh', else space-split words // 3 * 25."""
    units = len(text) if lang == "zh" else len(text.split(" "))
    return units // 3 * PATCHES_PER_3_UNITS


def patch_budget(text: str, lang: str) -> int:
    """Upstream's budget when positive, else MIN_TTS_PATCHES."""
    budget = upstream_patch_budget(text, lang)
    return budget if budget > 0 else MIN_TTS_PATCHES


@torch.inference_mode()
def generate_tts(
    stack: Any,
    text: str,
    prompt_waveform: torch.Tensor,
    prompt_text: str,
    *,
    patch_size: int,
    lang: str,
    cfg: float,
    noise: NoiseSource,
    on_audio: Callable[[torch.Tensor], None] | None = None,
    max_patches: int | None = None,
    flush_at_budget: bool = True,
    enforce_context: bool = True,
) -> TTSOutput:
    """Speak ``text`` in the voice of ``prompt_waveform`` [1, N] (16 kHz) whose words are ``prompt_text``.

    ``lang``: 'zh' counts characters for the budget, anything else counts words.
    ``on_audio(chunk)``: called with each non-empty decoded chunk (float32 [samples], CPU) as soon
    as its patch is generated. ``max_patches`` overrides the budget.
    ``flush_at_budget``: when the budget (not the stop head) ends generation, flush the decoder's
    last 480 samples it withholds; upstream does not (False reproduces its output exactly).
    Noise: one posterior draw [1, latent_dim, T], then 11 draws per patch.
    """
    if not text.strip():
        raise MingEditError("nothing to say: the text is empty")
    budget = patch_budget(text, lang) if max_patches is None else int(max_patches)
    if budget < 1:
        raise MingEditError(f"the patch budget must be at least 1, got {budget}")
    tokenizer = stack_tokenizer(stack)
    wave, lengths = mono_batch(prompt_waveform)
    llm = stack.llm

    audio = encode_for_generation(stack, wave, lengths, patch_size, noise)
    n_prompt = audio.latent.shape[1] // patch_size
    if n_prompt == 0:
        raise AudioError(f"the voice prompt is shorter than one patch ({patch_size * 20} ms)")
    prompt = tts_prompt(tokenizer, text, prompt_text, audio.latent.shape[1], patch_size=patch_size)
    # the budget is only a cap: what must fit is the shortest speech the stop rule allows
    check_context(stack, prompt.input_ids.shape[1], min(budget, MIN_STOP_STEP + 1), task="speech generation",
                  hint="split the text into shorter sentences (`ming-edit speak` does) or use a shorter voice clip",
                  enforce=enforce_context)
    input_ids = prompt.input_ids.to(stack.device)
    embeds, _ = splice_audio(llm.embed(input_ids), prompt.audio_placeholder_loc_lens, audio.embeds,
                             torch.tensor([[n_prompt]]))
    position_ids, rope_deltas = positions_from_attention_mask(prompt.attention_mask.to(stack.device))

    stepper = AudioStepper(stack, patch_size, cfg, noise, audio.semantic_cache,
                           latent_history=audio.latent[:, -patch_size:])
    stream = stack.audio_decoder.stream()
    cache = llm.new_cache()
    chunks: list[torch.Tensor] = []
    hidden_seen: list[torch.Tensor] = []
    stopped = False
    for step in range(budget):
        out = llm(embeds, position_ids=position_ids, cache=cache, compute_logits=False)
        hidden = out.last_hidden[:, -1:]
        hidden_seen.append(hidden[:, 0].float())
        patch = stepper.sample(hidden)
        stopped = stepper.wants_stop(hidden) and step >= MIN_STOP_STEP
        last = stopped or (flush_at_budget and step == budget - 1)
        chunk = stream.push(patch, last=last).float().cpu()
        chunks.append(chunk)
        if on_audio is not None and chunk.numel():
            on_audio(chunk.reshape(-1))
        if stopped or step == budget - 1:
            break
        embeds = stepper.next_input(patch)
        position_ids = step_positions(cache.length, rope_deltas)

    return TTSOutput(
        prompt_input_ids=prompt.input_ids,
        latents=stepper.latents().cpu(),
        speech=torch.cat(chunks, dim=-1)[0],
        step_hidden=torch.stack(hidden_seen, dim=1).cpu(),
        stop_logits=stepper.stop_logit_table(),
        stopped=stopped,
    )
