"""Golden runners for the flow head (DiT velocity) and its sampler (time grid, CFM sample)."""

from __future__ import annotations

import torch

from ming_edit.dev.conformance.golden import GoldenCase
from ming_edit.dev.conformance.registry import runner
from ming_edit.model.sampler import epss_timesteps, sample_patch


@runner("dit")
def run_dit(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    """forward_with_cfg(x, t, c, cfg_scale, latent_history, patch_size): raw velocity, [cond; uncond]."""
    dit = stack.flow_head
    velocity = dit.forward_with_cfg(
        case.input("x"),
        case.input("t"),
        case.input("c"),
        float(case.params["cfg_scale"]),
        case.input("latent_history"),
        int(case.params["patch_size"]),
    )
    return {"velocity": velocity}


@runner("epss")
def run_epss(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    return {f"epss_{n:02d}": epss_timesteps(int(n)) for n in case.params["steps_list"]}


@runner("cfm_sample")
def run_cfm_sample(stack, case: GoldenCase) -> dict[str, torch.Tensor]:
    """flowloss.sample(z, latent_history, cfg, patch_size) with upstream's defaults
    (10 steps, sway -1, EPSS), replaying the recorded noise stream."""
    result = sample_patch(
        stack.flow_head,
        case.input("z"),
        case.input("latent_history"),
        cfg=float(case.params["cfg"]),
        noise=case.noise(),
        patch_size=int(case.params["patch_size"]),
    )
    return {"sample": result.sample, "trajectory": result.trajectory, "t_grid": result.t_grid}
