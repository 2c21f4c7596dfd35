"""Expert offload (``--offload experts``): the LLM's routed experts stay in host memory.

Attention, routers, shared experts, embeddings, lm_head and every other component live on the
compute device; the routed experts (most of a Bailing MoE's weights: ~85 % of the 16B model) are
loaded into host RAM (quantised in the host's layout under ``--quantize``). Each expert call runs
where it is cheaper:

* few tokens (decode steps, short prompts): the tokens go to the host, the expert runs there, the
  result comes back - moving a few rows costs microseconds, moving the weights milliseconds;
* ``MOVE_FROM_TOKENS`` or more tokens (a prefill): the expert's weights are copied to the device for
  that call (transient: one expert at a time), where the GEMM is far faster than on the host.

int4 experts are packed for the CPU kernel (aten._weight_int4pack_mm_for_cpu), a layout the CUDA
kernel cannot read, so they always run on the host. On ``--device cpu`` host and device are the
same and nothing moves: the same code path, which the tests exercise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

HOST = torch.device("cpu")
# Break-even of "copy the weights" (bytes / PCIe bandwidth) against "compute on the host" (tokens x
# flops / host throughput) for a bf16 expert at ~20 GB/s and ~200 GFLOP/s: about 10 tokens; int8
# halves the bytes. Not yet measured on a GPU.
MOVE_FROM_TOKENS = 16


def is_packed_for_host(weight: torch.Tensor) -> bool:
    """Whether ``weight`` is in a host-only layout (torchao's CPU int4 packing)."""
    return type(weight).__name__ == "Int4OpaqueTensor"


class ExpertPlacement:
    """Runs routed experts held in host memory for inputs on ``device``."""

    def __init__(self, experts: nn.ModuleList, device: torch.device, move_from_tokens: int = MOVE_FROM_TOKENS) -> None:
        self.experts = experts
        self.device = torch.device(device)
        self.move_from_tokens = move_from_tokens
        self.movable = [not any(is_packed_for_host(p) for p in (e.gate_proj.weight, e.up_proj.weight,
                                                                  e.down_proj.weight)) for e in experts]
        self.moved_calls = 0  # expert calls whose weights were copied to the device (tests, benchmarks)
        self.host_calls = 0

    def run(self, expert_id: int, x: torch.Tensor) -> torch.Tensor:
        """One expert on the rows ``x`` [n, H] (on the compute device) -> [n, H] on x's device."""
        expert = self.experts[expert_id]
        if x.shape[0] >= self.move_from_tokens and self.movable[expert_id]:
            self.moved_calls += 1
            gate, up, down = (lin.weight.to(x.device, non_blocking=True)
                              for lin in (expert.gate_proj, expert.up_proj, expert.down_proj))
            return F.linear(expert.act(F.linear(x, gate)) * F.linear(x, up), down)
        self.host_calls += 1
        return expert(x.to(HOST)).to(x.device)


def offload_experts(llm: nn.Module, device: torch.device) -> int:
    """Attach an ExpertPlacement to every sparse MoE layer of ``llm`` (its routed experts already in
    host memory, as the loader leaves them under offload); returns the number of layers."""
    from ming_edit.model.moe import SparseMoE

    layers = 0
    for module in llm.modules():
        if isinstance(module, SparseMoE):
            module.placement = ExpertPlacement(module.experts, device)
            layers += 1
    return layers
