"""`ming-edit models list | path | pull`: the released checkpoints and their local copies."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ming_edit.errors import MingEditError

app = typer.Typer(help="List, locate and download the model checkpoints.", no_args_is_help=True)


@app.command("list")
def models_list(
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="Also show this checkpoint directory."),
) -> None:
    """Known checkpoints, their role and size, whether a local copy was found, and for local copies
    the weight memory in bf16 / int8 / int4 (from the safetensors headers) plus KV cache and
    activations for 30 s of audio."""
    from rich.console import Console
    from rich.table import Table

    from ming_edit.model import hub

    table = Table(title="Ming-UniAudio checkpoints")
    numbers = ("bf16", "int8", "int4", "int4 offload", "+30 s")
    for column in ("name", "repo", "role", "size", "VRAM", *numbers, "local"):
        table.add_column(column, justify="right" if column in numbers else "left")
    cuda_int4: list[str] = []
    for entry in hub.load_registry():
        found = hub.find_in_cache(entry)
        if found is not None:
            size = f"{hub.directory_size(found) / 1e9:.1f} GB"
            local = str(found)
        else:
            size, local = f"~{entry.size_gb:g} GB", "no"
        memory_cells = _memory_cells(found, entry.name, cuda_int4)
        table.add_row(entry.name, entry.repo_id, ",".join(entry.roles), size, f"~{entry.vram_gb:g} GB",
                      *memory_cells, local)
    extra = [("--model", model)] if model is not None else []
    if os.environ.get(hub.MODEL_ENV):
        extra.append((hub.MODEL_ENV, Path(os.environ[hub.MODEL_ENV]).expanduser()))
    for label, directory in extra:
        cells = _memory_cells(directory, label, cuda_int4)
        table.add_row(f"({label})", "-", "-", f"{hub.directory_size(directory) / 1e9:.1f} GB"
                      if directory.is_dir() else "-", "-", *cells, str(directory))
    console = Console()
    if not console.is_terminal:  # piped: no wrapping, so scripts can grep whole names and paths
        console = Console(width=400)
    console.print(table)
    console.print("bf16 / int8 / int4: weight memory from the checkpoint's tensor shapes (--quantize int8 / int4 "
                  "quantise the LLM's linear layers; the rest stays bf16); int4 offload: what stays on the GPU "
                  "with --quantize int4 --offload experts (the routed experts go to host memory); +30 s: KV cache "
                  "and activations for 30 s of audio (bf16, batch 1). '-': no local copy.", highlight=False)
    for line in cuda_int4:
        console.print(line, highlight=False)
    if os.environ.get(hub.MODEL_ENV):
        console.print(f"{hub.MODEL_ENV}={os.environ[hub.MODEL_ENV]} (used for every role)")


def _memory_cells(directory: Optional[Path], name: str, cuda_int4: list[str]) -> list[str]:
    """[bf16, int8, int4, int4 with expert offload, runtime] for a local checkpoint directory, '-'
    when there is none, the one-line reason when its headers cannot be read."""
    from ming_edit.model import memory

    if directory is None:
        return ["-"] * 5
    try:
        headers = memory.read_headers(directory)
        est = {m: memory.estimate(directory, m, 2, "all", "cpu", headers=headers) for m in memory.QUANT_MODES}
        on_cuda = memory.estimate(directory, "int4", 2, "all", "cuda", headers=headers)
        offloaded = memory.estimate(directory, "int4", 2, "all", "cuda", headers=headers, offload="experts")
    except MingEditError as err:
        return ["?", "?", "?", "?", str(err)[:60]]
    if on_cuda.weights != est["int4"].weights:
        cuda_int4.append(f"{name}: int4 on CUDA (tinygemm pads in_features to 1024): {_size(on_cuda.weights)}")
    return [_size(est["none"].weights), _size(est["int8"].weights), _size(est["int4"].weights),
            _size(offloaded.weights), _size(est["none"].runtime)]


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


@app.command("path")
def models_path(name: str = typer.Argument(..., help="Model name or repo id (see `models list`).")) -> None:
    """Print the local directory of a downloaded checkpoint."""
    from ming_edit.model import hub

    entry = hub.get_entry(name)
    found = hub.find_in_cache(entry)
    if found is None:
        raise MingEditError(f"{entry.repo_id} is not in the Hugging Face cache; run `ming-edit models pull {entry.name}`")
    typer.echo(str(found))


@app.command("pull")
def models_pull(name: str = typer.Argument(..., help="Model name or repo id (see `models list`).")) -> None:
    """Download a checkpoint into the Hugging Face cache."""
    from ming_edit.model import hub

    typer.echo(str(hub.pull(name)))
