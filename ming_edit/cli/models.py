"""`ming-edit models list | path | pull`: the released checkpoints and their local copies."""

from __future__ import annotations

import os

import typer

from ming_edit.errors import MingEditError

app = typer.Typer(help="List, locate and download the model checkpoints.", no_args_is_help=True)


@app.command("list")
def models_list() -> None:
    """Known checkpoints, their role and size, and whether a local copy was found."""
    from rich.console import Console
    from rich.table import Table

    from ming_edit.model import hub

    table = Table(title="Ming-UniAudio checkpoints")
    for column in ("name", "repo", "role", "size", "VRAM", "local"):
        table.add_column(column)
    for entry in hub.load_registry():
        found = hub.find_in_cache(entry)
        if found is not None:
            size = f"{hub.directory_size(found) / 1e9:.1f} GB"
            local = str(found)
        else:
            size, local = f"~{entry.size_gb:g} GB", "no"
        table.add_row(entry.name, entry.repo_id, ",".join(entry.roles), size, f"~{entry.vram_gb:g} GB", local)
    console = Console()
    if not console.is_terminal:  # piped: no wrapping, so scripts can grep whole names and paths
        console = Console(width=400)
    console.print(table)
    if os.environ.get(hub.MODEL_ENV):
        console.print(f"{hub.MODEL_ENV}={os.environ[hub.MODEL_ENV]} (used for every role)")


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
