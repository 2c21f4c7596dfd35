"""Weight-only quantisation of the LLM's linear layers (``--quantize int8 | int4``), with torchao.

Which weights: every ``nn.Linear`` weight inside the Bailing MoE LLM's decoder layers - attention
``query_key_value`` / ``dense``, the routed experts, the shared experts and dense MLPs
(``memory.is_quantizable_key`` is the rule; the loader and the memory estimate both use it). The
embeddings, the lm_head, the routers (tiny, and expert choice is a discrete decision), the norms
and every other component (audio tokenizer, semantic module, projector, flow head, stop head) keep
the stack's float dtype. Biases stay float.

Formats and kernels (torchao 0.18, no hand-written matmuls):

* int8: ``Int8WeightOnlyConfig`` (symmetric, one scale per output row) -> ``Int8Tensor``; its
  linear casts the int8 matrix to the activation dtype and multiplies (CPU, CUDA).
* int4 on CPU: ``torchao.prototype.quantization.int4.PrototypeInt4WeightOnlyConfig`` ->
  ``Int4OpaqueTensor`` (asymmetric, one scale + zero per group of 128 / 64 / 32 inputs), computed by
  PyTorch's ``aten._weight_int4pack_mm_for_cpu``. Needs out_features % 16 == 0 and in_features
  divisible by the group; other weights stay float (``memory.int4_group``).
* int4 on CUDA: ``Int4WeightOnlyConfig(int4_packing_format="tile_packed_to_4d")`` ->
  ``Int4TilePackedTo4dTensor`` (tinygemm ``aten._weight_int4pack_mm``): bf16 activations only and
  compute capability >= 8.0. Not measured here (no GPU on the development machines).
* MPS: int8 only.

Each weight is quantised right after the loader has read (and cast) it, so the float copy of one
tensor at a time exists next to the quantised model - never the whole float LLM.
"""

from __future__ import annotations

from typing import Any

import torch

from ming_edit.errors import DeviceError
from ming_edit.model.memory import QUANT_MODES, int4_group, is_quantizable_key, is_quantizable_shape

TORCHAO_HINT = "pip install 'torchao>=0.18'"


def _torchao() -> Any:
    try:
        import torchao  # noqa: F401
        from torchao.quantization import quantize_
    except ImportError as err:
        raise DeviceError(f"--quantize needs the torchao package ({TORCHAO_HINT}; import failed: "
                          f"{str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                          "--quantize none works without it") from None
    return quantize_


def check_supported(mode: str, device: torch.device, dtype: torch.dtype) -> None:
    """One DeviceError line when ``mode`` cannot run on ``device`` / ``dtype`` here, naming what
    is missing and what works instead. Called before any weight is read."""
    if mode not in QUANT_MODES:
        raise ValueError(f"unknown quantisation {mode!r}; known: {', '.join(QUANT_MODES)}")
    if mode == "none":
        return
    _torchao()
    if mode == "int8":
        return
    if device.type == "cpu":
        if not int4_cpu_kernel_available():
            raise DeviceError("--quantize int4 on CPU needs PyTorch's aten._weight_int4pack_mm_for_cpu kernel, "
                              f"which this torch {torch.__version__} lacks; use --quantize int8")
        try:
            from torchao.prototype.quantization.int4 import PrototypeInt4WeightOnlyConfig  # noqa: F401
        except ImportError:
            raise DeviceError("--quantize int4 on CPU needs torchao's Int4OpaqueTensor "
                              "(torchao.prototype.quantization.int4, torchao >= 0.18); use --quantize int8") from None
        return
    if device.type == "cuda":
        if dtype != torch.bfloat16:
            raise DeviceError("--quantize int4 on CUDA needs --dtype bf16 (the tinygemm int4 kernel takes bf16 "
                              "activations only); use --dtype bf16 or --quantize int8")
        major, minor = torch.cuda.get_device_capability(device)
        if major < 8:
            raise DeviceError(f"--quantize int4 on CUDA needs compute capability 8.0+ for the tinygemm kernel "
                              f"(this GPU: {major}.{minor}); use --quantize int8")
        return
    raise DeviceError(f"--quantize int4 has no kernel for --device {device.type}; use --quantize int8 or --device cpu")


def int4_cpu_kernel_available() -> bool:
    """Whether this torch build has the CPU int4 weight-only matmul Int4OpaqueTensor uses."""
    return hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu") and \
        hasattr(torch.ops.aten, "_convert_weight_to_int4pack_for_cpu")


def _config(mode: str, device: torch.device, group: int) -> Any:
    if mode == "int8":
        from torchao.quantization import Int8WeightOnlyConfig

        return Int8WeightOnlyConfig(set_inductor_config=False)
    if device.type == "cpu":
        from torchao.prototype.quantization.int4 import PrototypeInt4WeightOnlyConfig

        return PrototypeInt4WeightOnlyConfig(group_size=group, set_inductor_config=False)
    from torchao.quantization import Int4WeightOnlyConfig

    return Int4WeightOnlyConfig(group_size=group, int4_packing_format="tile_packed_to_4d", set_inductor_config=False)


def quantize_weight(weight: torch.Tensor, mode: str) -> torch.Tensor:
    """A 2-D float weight [out, in] -> its torchao quantised tensor (the same shape), or ``weight``
    itself when ``mode`` is "none" or the shape does not suit the format."""
    shape = tuple(weight.shape)
    device = weight.device
    if mode == "none" or not is_quantizable_shape(shape, mode, device.type):
        return weight
    quantize_ = _torchao()
    in_features = shape[1] if device.type != "cuda" else -(-shape[1] // 1024) * 1024  # tinygemm pads
    group = int4_group(in_features) if mode == "int4" else 0
    with torch.device("meta"):
        linear = torch.nn.Linear(shape[1], shape[0], bias=False)
    linear.weight = torch.nn.Parameter(weight.detach(), requires_grad=False)
    quantize_(linear, _config(mode, device, group))
    return linear.weight.data if isinstance(linear.weight, torch.nn.Parameter) else linear.weight


def is_quantized(tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` is one of torchao's quantised tensor subclasses."""
    try:
        from torchao.utils import TorchAOBaseTensor
    except ImportError:
        return False
    return isinstance(tensor, TorchAOBaseTensor) or isinstance(getattr(tensor, "data", None), TorchAOBaseTensor)


def storage_bytes(tensor: torch.Tensor) -> int:
    """Bytes a tensor really holds: for a torchao tensor, its inner data (quantised values, scales,
    zeros); for a plain tensor, numel x element size."""
    inner = getattr(tensor, "tensor_data_names", None)
    if inner is not None and is_quantized(tensor):
        names = list(inner) + list(getattr(tensor, "optional_tensor_data_names", None) or [])
        parts = [getattr(tensor, n, None) for n in names]
        return sum(p.numel() * p.element_size() for p in parts if isinstance(p, torch.Tensor))
    return tensor.numel() * tensor.element_size()


def quantized_keys(expected: dict[str, torch.Tensor], prefix: str, mode: str, device: torch.device,
                   host_keys: set[str] = frozenset()) -> set[str]:
    """Checkpoint keys of the LLM weights ``mode`` quantises: nn.Linear weights of the decoder
    layers (memory.is_quantizable_key) whose shape suits the format on their device (``host_keys``,
    offloaded experts: the CPU's); the rest stay float."""
    if mode == "none":
        return set()
    return {k for k, t in expected.items() if k.startswith(prefix) and is_quantizable_key(k)
            and isinstance(t, torch.nn.Parameter)
            and is_quantizable_shape(tuple(t.shape), mode, "cpu" if k in host_keys else device.type)}


def trim_host_heap() -> None:
    """Give freed heap memory back to the OS (glibc malloc_trim; a no-op elsewhere).

    Casting and quantising frees as much float memory as it allocates, in tensors of a few MB that
    glibc serves from its heap and keeps after free, fragmented between the small quantised tensors
    that stay: measured ~2.3 x the float32 bytes quantised (~9 x the int8 result), so without trims
    a quantised load's RSS would grow like the float model. The loader trims after each converted
    shard and every TRIM_EVERY_BYTES of converted tensors counted at 4 bytes an element (a trim
    costs a few ms).
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        try:
            import ctypes

            _MALLOC_TRIM = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)


_MALLOC_TRIM: Any = None
TRIM_EVERY_BYTES = 16 * 2**20
