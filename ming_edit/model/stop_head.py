"""Stop head: Linear(LLM hidden -> 2) on the final-norm hidden state of the last position.

Checkpoint prefix ``stop_head.`` (``weight`` [2, H], ``bias`` [2]). Upstream stops audio
generation when softmax(logits)[1] > 0.5 (after a minimum number of patches).
"""

from __future__ import annotations

import torch
from torch import nn

from ming_edit.errors import CheckpointError
from ming_edit.model.config import MingConfig


class StopHead(nn.Module):
    def __init__(self, config: MingConfig) -> None:
        super().__init__()
        if config.llm is None:
            raise CheckpointError("the stop head needs an LLM configuration (llm_config missing)")
        hidden = config.llm.hidden_size
        self.weight = nn.Parameter(torch.empty(2, hidden))
        self.bias = nn.Parameter(torch.zeros(2))
        nn.init.normal_(self.weight, std=hidden**-0.5)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [..., H] -> logits [..., 2] (index 1 = stop)."""
        return nn.functional.linear(hidden, self.weight, self.bias)

    def prob_stop(self, hidden: torch.Tensor) -> torch.Tensor:
        """Probability of stopping, softmax(logits)[..., 1]."""
        return self.forward(hidden).softmax(dim=-1)[..., 1]
