"""Where the stochastic parts of the stack (posterior sampling, flow sampler) get their noise.

Upstream draws with torch.randn; we take every draw from a NoiseSource so that a caller can
seed it, or replay a recorded stream (the golden fixtures record upstream's draws in order).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import torch


class NoiseSource(Protocol):
    def randn(self, shape: Sequence[int], *, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
        """A standard-normal tensor of exactly ``shape``."""
        ...


class TorchNoise:
    """Fresh Gaussian noise from a (optionally seeded) torch generator, drawn on the CPU so that a
    seed gives the same audio on every device."""

    def __init__(self, seed: int | None = None) -> None:
        self.generator = torch.Generator(device="cpu")
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(seed)

    def randn(self, shape: Sequence[int], *, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
        sample = torch.randn(tuple(shape), generator=self.generator, dtype=torch.float32)
        return sample.to(device=device, dtype=dtype)


class ReplayNoise:
    """Replays recorded draws in order; a draw of the wrong shape or past the end is an error,
    because it means our call order has diverged from the recording."""

    def __init__(self, draws: Sequence[torch.Tensor]) -> None:
        self.draws = list(draws)
        self.position = 0

    def randn(self, shape: Sequence[int], *, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
        if self.position >= len(self.draws):
            raise RuntimeError(f"noise replay exhausted after {len(self.draws)} draws")
        draw = self.draws[self.position]
        if tuple(draw.shape) != tuple(shape):
            raise RuntimeError(
                f"noise draw {self.position} has shape {tuple(draw.shape)}, caller asked for {tuple(shape)}"
            )
        self.position += 1
        return draw.to(device=device, dtype=dtype)

    @property
    def remaining(self) -> int:
        return len(self.draws) - self.position
