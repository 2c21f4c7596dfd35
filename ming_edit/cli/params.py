"""Option declarations the commands share (Typer reads a declaration, so one serves many commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ming_edit.ops.operation import OUTPUT_RATES
from ming_edit.options import ModelOptions

MODEL_HELP = "Checkpoint directory (default: $MING_EDIT_MODEL, then the Hugging Face cache)."
MODEL = typer.Option(None, "--model", metavar="DIR", help=MODEL_HELP)
DEVICE = typer.Option("auto", "--device", help="Device: auto, cuda, cuda:N, mps or cpu.")
DTYPE = typer.Option(None, "--dtype", help="Precision: auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16.")
QUANTIZE = typer.Option(
    None, "--quantize", metavar="none|int8|int4|auto",
    help="Weight-only quantisation of the LLM's linear layers while loading: none, int8, int4, or auto "
         "(the least that fits the device's free memory; says what it chose). Default: $MING_EDIT_QUANTIZE, else none.")
OFFLOAD = typer.Option(
    None, "--offload", metavar="none|experts",
    help="experts: keep the LLM's routed experts in host memory, for a GPU smaller than the model "
         "(attention, routers and shared experts stay on the GPU). Default: $MING_EDIT_OFFLOAD, else none.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output file.")
# speak and clone
SPEECH_OUTPUT = typer.Option(..., "-o", "--output", help="Output audio file (.wav, .flac, .ogg, ...)")
SAMPLE_RATE = typer.Option(None, "--sample-rate", min=OUTPUT_RATES[0], max=OUTPUT_RATES[1], help="Output sample rate (default: the model's, 16000).")
PAUSE = typer.Option(0.3, "--pause", min=0.0, max=5.0, help="Silence between sentences, seconds.")
FLOW_SEED = typer.Option(None, "--seed", help="Seed for the flow sampler.")


def model_options(model: Optional[Path | str], device: str, dtype: Optional[str], seed: Optional[int],
                  quantize: Optional[str] = None, offload: Optional[str] = None) -> ModelOptions:
    """The model options as one validated value (a bad device, dtype, quantize or offload is a usage
    error, exit 2); the library's notices (what --quantize auto chose) go to stderr."""
    from ming_edit.cli import render

    return ModelOptions(model=str(model) if model is not None else None, device=device, dtype=dtype, seed=seed,
                        quantize=quantize, offload=offload, on_notice=render.err)
