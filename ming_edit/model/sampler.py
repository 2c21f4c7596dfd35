"""Conditional flow matching sampler for one audio patch (upstream CFM.sample + Solver).

Time grid: EPSS table (or a uniform grid), warped by "sway"; solver: Euler steps from noise at
t = 0 to data at t = 1 with a small Gaussian kick after each step. Every random draw goes through
the caller's NoiseSource in upstream's order: one initial draw [B, D, P] (channel-first, then
transposed) and one kick [B, P, D] per step, the last one drawn but unused.

The solver state, the time grid and the guidance arithmetic stay in float32 whatever the DiT
dtype; only the DiT evaluation itself runs in the model's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ming_edit.model.flow_head import DiT
from ming_edit.model.noise import NoiseSource

# Empirically Pruned Step Sampling: grid points in units of 1/32 for the step counts that have a table.
EPSS_TABLE: dict[int, tuple[int, ...]] = {
    5: (0, 2, 4, 8, 16, 32),
    6: (0, 2, 4, 6, 8, 16, 32),
    7: (0, 2, 4, 6, 8, 16, 24, 32),
    10: (0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32),
    12: (0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32),
    16: (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32),
}
STATE_DTYPE = torch.float32
UNGUIDED_BELOW = 1e-5  # upstream: cfg_scale < 1e-5 means "no guidance"


@dataclass(frozen=True)
class SampleResult:
    sample: torch.Tensor  # [B, P, D], the last Euler state (no final kick)
    trajectory: torch.Tensor  # [steps + 1, B, P, D]: initial noise, then every Euler state
    t_grid: torch.Tensor  # [steps + 1] float32, after sway


def epss_timesteps(n: int, device: torch.device | str = "cpu", dtype: torch.dtype = STATE_DTYPE) -> torch.Tensor:
    """[n + 1] grid on [0, 1]: the EPSS table for n in EPSS_TABLE, else linspace(0, 1, n + 1)."""
    if n < 1:
        raise ValueError(f"the sampler needs at least one step, got {n}")
    table = EPSS_TABLE.get(n)
    if table is None:
        return torch.linspace(0, 1, n + 1, device=device, dtype=dtype)
    return (1 / 32) * torch.tensor(table, device=device, dtype=dtype)


def sway(t: torch.Tensor, coef: float) -> torch.Tensor:
    """t + coef * (cos(pi t / 2) - 1 + t); coef = -1 gives 1 - cos(pi t / 2) (dense near t = 0)."""
    return t + coef * (torch.cos(torch.pi / 2 * t) - 1 + t)


def time_grid(steps: int, *, use_epss: bool = True, sway_coef: float | None = -1.0,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """The solver's [steps + 1] float32 grid: EPSS (or uniform), then sway unless sway_coef is None."""
    if use_epss:
        t = epss_timesteps(steps, device)
    else:
        t = torch.linspace(0, 1, steps + 1, device=device, dtype=STATE_DTYPE)
    return t if sway_coef is None else sway(t, sway_coef)


def is_guided(cfg: float) -> bool:
    """Whether cfg asks for classifier-free guidance. cfg == 1 and cfg < 1e-5 mean plain conditional
    velocity (upstream cannot run either: it fails to unpack / calls the model with wrong names)."""
    return not (cfg == 1 or cfg < UNGUIDED_BELOW)


def guided_velocity(dit: DiT, x: torch.Tensor, t: torch.Tensor, cond, cfg: float,
                    time_embed: torch.Tensor | None = None) -> torch.Tensor:
    """v_cond + cfg * (v_cond - v_uncond) when cond is guided, else v_cond; float32 [B, P, D]."""
    raw = dit.velocity(x, t, cond, time_embed).to(STATE_DTYPE)
    if not cond.guided:
        return raw
    v_cond, v_uncond = raw[: cond.batch], raw[cond.batch:]
    return v_cond + (v_cond - v_uncond) * cfg


@torch.no_grad()
def sample_patch(
    dit: DiT,
    c: torch.Tensor,
    latent_history: torch.Tensor,
    *,
    cfg: float,
    noise: NoiseSource,
    steps: int = 10,
    sway_coef: float | None = -1.0,
    use_epss: bool = True,
    sigma: float = 0.25,
    temperature: float = 1.5,
    patch_size: int | None = None,
    time_embeds: dict | None = None,
) -> SampleResult:
    """Sample one patch of latents [B, P, D] conditioned on the LLM state c [B, 1, H_llm].

    latent_history [B, P, D] is the previous patch (zeros / the last prompt patch at the start);
    P = latent_history.shape[1] is the patch length, as upstream draws the noise from it.
    cfg: guidance strength (upstream default 2.0); see ``is_guided`` for 1 and ~0.
    time_embeds: a dict the caller keeps across the patches of one generation (same DiT weights,
    steps and grid): the time embedding of each grid point is computed on the first patch only.
    """
    batch, patch_len, latent_dim = latent_history.shape
    if patch_size is not None and patch_size != patch_len:
        raise ValueError(f"patch_size {patch_size} differs from the latent_history length {patch_len}")
    if latent_dim != dit.in_channels:
        raise ValueError(f"latent_history has {latent_dim} channels, the flow head expects {dit.in_channels}")
    device = dit.device
    cond = dit.prepare(c, latent_history, guided=is_guided(cfg), patch_len=patch_len)

    t = time_grid(steps, use_epss=use_epss, sway_coef=sway_coef, device=device)
    y0 = noise.randn((batch, latent_dim, patch_len), dtype=STATE_DTYPE, device=device).transpose(1, 2)
    trajectory = torch.empty((steps + 1, batch, patch_len, latent_dim), dtype=STATE_DTYPE, device=device)
    trajectory[0] = y0
    kick_scale = sigma * (temperature ** 0.5)
    y1 = y0
    for k in range(steps):
        t0, t1 = t[k], t[k + 1]
        dt = t1 - t0
        key = (steps, use_epss, sway_coef, k, cond.rows)
        time_embed = None if time_embeds is None else time_embeds.get(key)
        if time_embed is None:
            time_embed = dit.time_embedding(t0, cond)
            if time_embeds is not None:
                time_embeds[key] = time_embed
        y1 = y0 + dt * guided_velocity(dit, y0, t0, cond, cfg, time_embed)
        trajectory[k + 1] = y1
        kick = noise.randn((batch, patch_len, latent_dim), dtype=STATE_DTYPE, device=device)
        y0 = y1 + kick_scale * (abs(dt) ** 0.5) * kick
    return SampleResult(sample=trajectory[-1], trajectory=trajectory, t_grid=t)
