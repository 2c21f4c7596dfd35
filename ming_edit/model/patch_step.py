"""One audio step of the edit / TTS loops, shared by both.

LLM final-norm hidden state of the last position --(flow head + CFM sampler)--> latent patch;
the stop head reads the same hidden state; the patch goes through the semantic module (its KV
cache continuing from the prompt audio) and the projector to become the next LLM input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ming_edit.model.embedding import patch_embedding
from ming_edit.model.noise import NoiseSource
from ming_edit.model.sampler import sample_patch

STOP_THRESHOLD = 0.5


@dataclass
class AudioStepper:
    """Carries latent_history and the semantic cache from one patch to the next."""

    stack: Any
    patch_size: int
    cfg: float
    noise: NoiseSource
    semantic_cache: Any
    latent_history: torch.Tensor  # [1, P, D]
    patches: list[torch.Tensor] = field(default_factory=list)
    stop_logits: list[torch.Tensor] = field(default_factory=list)
    time_embeds: dict = field(default_factory=dict)  # the DiT's per-grid-point time embeddings

    def sample(self, hidden: torch.Tensor) -> torch.Tensor:
        """Draw the next patch [1, P, D] from hidden [1, 1, H] (11 noise draws with 10 steps)."""
        patch = sample_patch(self.stack.flow_head, hidden, self.latent_history, cfg=self.cfg,
                             noise=self.noise, patch_size=self.patch_size, time_embeds=self.time_embeds).sample
        self.patches.append(patch)
        return patch

    def wants_stop(self, hidden: torch.Tensor) -> bool:
        """Stop head's vote on hidden [1, 1, H]: softmax(logits)[1] > 0.5 (logits recorded)."""
        logits = self.stack.stop_head(hidden)[0, 0]
        self.stop_logits.append(logits.float())
        return bool(logits.softmax(dim=-1)[1] > STOP_THRESHOLD)

    def next_input(self, patch: torch.Tensor) -> torch.Tensor:
        """Embed the patch for the next LLM call [1, 1, H]; it becomes the latent history."""
        self.latent_history = patch
        return patch_embedding(self.stack, patch, self.semantic_cache)

    def latents(self) -> torch.Tensor:
        """Every generated patch, concatenated [1, n * P, D]."""
        if not self.patches:
            return self.latent_history.new_zeros((1, 0, self.latent_history.shape[-1]))
        return torch.cat(self.patches, dim=1)

    def stop_logit_table(self) -> torch.Tensor:
        """[n_patches, 2] stop-head logits, one row per generated patch."""
        if not self.stop_logits:
            return torch.zeros((0, 2))
        return torch.stack(self.stop_logits).cpu()
