"""Speech edit (upstream ``generate_edit``): chain-of-thought text, then the edited audio.

Text phase: greedy tokens (argmax of the softmax) fed back one by one until the model emits
``<gen_audio>`` - there is no EOS stop here. Audio phase: every LLM call yields one latent patch
(flow head on the last hidden state; latent_history = zeros, then the previous patch), the patch
goes through the semantic module, whose KV cache continues from the input audio's encoding, and
the projector, and is the next LLM input. Stop once the stop head says so after >= 17 patches,
or when the step budget (all LLM calls together) runs out. The whole latent sequence is decoded
at the end without streaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ming_edit.errors import MingEditError
from ming_edit.model.patch_step import AudioStepper
from ming_edit.model.embedding import check_context, encode_for_generation, mono_batch
from ming_edit.model.embedding import splice_audio, stack_tokenizer, step_positions
from ming_edit.model.noise import NoiseSource
from ming_edit.model.rope import positions_from_attention_mask

MIN_EDIT_PATCHES = 17  # upstream: stop only when audio_step > 16


class NoEditAudioError(MingEditError):
    """The model never switched to audio generation within the step budget."""


@dataclass
class EditOutput:
    text_token_ids: torch.Tensor  # [1, n_text] greedy text tokens, the last one is <gen_audio>
    cot_text: str  # decoded text tokens before <gen_audio> (the chain of thought)
    audio_latents: torch.Tensor  # [1, n_patches * P, latent_dim]
    speech: torch.Tensor  # [1, 1, samples] float32, 16 kHz
    stop_logits: torch.Tensor  # [n_patches, 2]
    stopped: bool  # True: the stop head ended the audio; False: the step budget did
    step_logits: torch.Tensor | None = None  # [1, n_calls, vocab] (record=True)
    step_hidden: torch.Tensor | None = None  # [1, n_calls, H] final-norm hidden (record=True)

    @property
    def text(self) -> str:
        """Upstream's returned text: the cot text followed by ``<gen_audio>``."""
        return self.cot_text + "<gen_audio>"


def default_max_steps(prompt_len: int) -> int:
    """Upstream's budget of LLM calls (text and audio together)."""
    return max(int(prompt_len * 2.5), 100)


@torch.inference_mode()
def generate_edit(
    stack: Any,
    waveform: torch.Tensor,
    prompt: Any,
    *,
    patch_size: int,
    cfg: float,
    noise: NoiseSource,
    max_steps: int | None = None,
    on_text: Callable[[str], None] | None = None,
    record: bool = False,
    enforce_context: bool = True,
) -> EditOutput:
    """Edit ``waveform`` [1, N] (16 kHz float) as the ``prompt`` (prompts.edit_prompt) asks.

    Noise: one posterior draw [1, latent_dim, T], then 11 draws per audio patch.
    ``on_text(cot_text)`` runs when the text phase ends, before any audio is generated.
    ``record`` keeps every call's logits and hidden state (conformance checks).
    ``enforce_context``: refuse inputs whose edit would run past the LLM's position range.
    Raises NoEditAudioError if no audio patch was generated within ``max_steps`` LLM calls.
    """
    tokenizer = stack_tokenizer(stack)
    gen_audio_id = tokenizer.special.gen_audio_start
    wave, lengths = mono_batch(waveform)
    llm = stack.llm
    # the edited audio is about as long as the input (its patches are in the prompt), plus the CoT
    prompt_len = int(prompt.input_ids.shape[1])
    check_context(stack, prompt_len, int(prompt.audio_placeholder_loc_lens[0, 0, 1]) + MIN_EDIT_PATCHES, task="this edit",
                  hint="cut the recording into shorter pieces and edit the piece that needs it",
                  enforce=enforce_context)

    audio = encode_for_generation(stack, wave, lengths, patch_size, noise)
    input_ids = prompt.input_ids.to(stack.device)
    embeds, _ = splice_audio(llm.embed(input_ids), prompt.audio_placeholder_loc_lens, audio.embeds, audio.feat_lens)
    attention = prompt.attention_mask.to(stack.device)
    position_ids, rope_deltas = positions_from_attention_mask(attention)
    padded = not bool(attention.all())
    budget = default_max_steps(input_ids.shape[1]) if max_steps is None else int(max_steps)

    stepper = AudioStepper(stack, patch_size, cfg, noise, audio.semantic_cache,
                           latent_history=audio.latent.new_zeros((1, patch_size, audio.latent.shape[-1])))
    cache = llm.new_cache()
    text_ids: list[int] = []
    step_logits: list[torch.Tensor] = []
    step_hidden: list[torch.Tensor] = []
    in_audio = stopped = False
    step = 0
    while step < budget:
        # audio_mask stays None: generate_edit routes the audio positions by the text gate
        out = llm(embeds, position_ids=position_ids, attention_mask=attention if padded else None,
                  cache=cache, logits_last_only=True, compute_logits=record or not in_audio)
        hidden = out.last_hidden[:, -1:]
        if record:
            step_logits.append(out.logits[:, -1])
            step_hidden.append(hidden[:, 0].float())
        if not in_audio:
            token = int(torch.softmax(out.logits[:, -1], dim=-1).argmax(dim=-1)[0])
            text_ids.append(token)
            embeds = llm.embed(torch.tensor([[token]], device=stack.device))
            if token == gen_audio_id:
                in_audio = True
                if on_text is not None:
                    on_text(tokenizer.decode(text_ids[:-1]))
        else:
            patch = stepper.sample(hidden)
            if stepper.wants_stop(hidden) and len(stepper.patches) >= MIN_EDIT_PATCHES:
                stopped = True
                break
            embeds = stepper.next_input(patch)
        if padded:
            attention = torch.cat([attention, attention.new_ones((attention.shape[0], 1))], dim=1)
        position_ids = step_positions(cache.length, rope_deltas)
        step += 1

    if not stepper.patches:
        where = "started audio at the last step" if in_audio else "never emitted <gen_audio>"
        raise NoEditAudioError(f"the model {where} within {budget} steps; no edited audio was produced")
    latents = stepper.latents()
    return EditOutput(
        text_token_ids=torch.tensor([text_ids], dtype=torch.long),
        cot_text=tokenizer.decode(text_ids[:-1]),
        audio_latents=latents.cpu(),
        speech=stack.audio_decoder(latents).float().cpu(),
        stop_logits=stepper.stop_logit_table(),
        stopped=stopped,
        step_logits=torch.stack(step_logits, dim=1).cpu() if record else None,
        step_hidden=torch.stack(step_hidden, dim=1).cpu() if record else None,
    )
