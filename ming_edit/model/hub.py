"""Model discovery: --model DIR, the MING_EDIT_MODEL environment variable, or the Hugging Face cache.

The released checkpoints are listed in ming_edit/data/models.json (name, repo id, roles, approximate
size and VRAM). Nothing here imports torch or touches the network, except `pull`, which is the one
explicit download path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ming_edit.errors import CheckpointError, MingEditError, ModelNeededError, UsageError

if TYPE_CHECKING:
    from ming_edit.model.text_tokenizer import TextTokenizer

MODEL_ENV = "MING_EDIT_MODEL"

# What each role needs from a checkpoint, and how a user-facing command names it.
ROLE_ALIASES = {"clone": "tts", "speak": "tts", "transcribe": "asr"}
TEXT_ROLES = ("asr", "tts", "edit")
ROLE_TASK = {"asr": "transcription", "tts": "speech synthesis", "edit": "model-driven editing",
             "tokenizer": "the audio tokenizer"}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    repo_id: str
    roles: tuple[str, ...]
    kind: str  # "bailingmm" (full speech LLM) or "audio_vae" (tokenizer only)
    size_gb: float
    vram_gb: float
    description: str = ""


def load_registry() -> list[ModelEntry]:
    """The released checkpoints, read from the package data (works from an installed wheel too)."""
    text = resources.files("ming_edit").joinpath("data/models.json").read_text(encoding="utf-8")
    return [
        ModelEntry(
            name=m["name"], repo_id=m["repo_id"], roles=tuple(m["roles"]), kind=m["kind"],
            size_gb=float(m["size_gb"]), vram_gb=float(m["vram_gb"]), description=m.get("description", ""),
        )
        for m in json.loads(text)["models"]
    ]


def canonical_role(role: str) -> str:
    return ROLE_ALIASES.get(role, role)


def get_entry(name: str) -> ModelEntry:
    """Look a model up by registry name or repo id (case-insensitive)."""
    wanted = name.strip().lower()
    for entry in load_registry():
        if wanted in (entry.name.lower(), entry.repo_id.lower(), entry.repo_id.split("/")[-1].lower()):
            return entry
    names = ", ".join(e.name for e in load_registry())
    raise UsageError(f"unknown model {name!r}; known models: {names}")


def entries_for_role(role: str) -> list[ModelEntry]:
    role = canonical_role(role)
    return [e for e in load_registry() if role in e.roles]


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time (HF_HUB_CACHE, HF_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def _has_weights(directory: Path) -> bool:
    return (directory / "model.safetensors").is_file() or (directory / "model.safetensors.index.json").is_file()


def find_in_cache(entry: ModelEntry, cache_dir: Path | None = None) -> Path | None:
    """A complete local snapshot of ``entry`` (config.json + safetensors weights), or None.

    Local files only: the refs/main snapshot first (what try_to_load_from_cache resolves), then any
    other snapshot directory of that repo.
    """
    cache = Path(cache_dir) if cache_dir is not None else hf_cache_dir()
    if not cache.is_dir():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(entry.repo_id, "config.json", cache_dir=str(cache))
    except Exception:  # a damaged cache must not break discovery; fall back to scanning
        hit = None
    candidates: list[Path] = []
    if isinstance(hit, str):
        candidates.append(Path(hit).parent)
    snapshots = cache / f"models--{entry.repo_id.replace('/', '--')}" / "snapshots"
    if snapshots.is_dir():
        candidates += sorted((p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: -p.stat().st_mtime)
    for snapshot in candidates:
        if (snapshot / "config.json").is_file() and _has_weights(snapshot):
            return snapshot
    return None


def directory_size(directory: Path) -> int:
    """Bytes on disk under ``directory``, following the hub cache's symlinks into blobs/."""
    total = 0
    for path in directory.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def check_checkpoint(path: Path, role: str, source: str) -> Path:
    """Check that ``path`` is a checkpoint directory that can serve ``role``; return it resolved."""
    from ming_edit.model.config import read_config  # json only, no torch

    role = canonical_role(role)
    config = read_config(path, source)
    if role in TEXT_ROLES and config.kind != "bailingmm":
        raise CheckpointError(
            f"{source} {path} is a MingTok-Audio tokenizer checkpoint; {ROLE_TASK[role]} needs the full "
            f"Ming-UniAudio model ({_needed(role).repo_id})"
        )
    if not _has_weights(path):
        raise CheckpointError(f"{source} {path}: no model.safetensors or model.safetensors.index.json")
    if role in TEXT_ROLES and not (path / "tokenizer.json").is_file():
        raise CheckpointError(f"{source} {path}: no tokenizer.json (incomplete checkpoint)")
    return path.resolve()


def _needed(role: str) -> ModelEntry:
    entries = entries_for_role(role)
    if not entries:
        raise UsageError(f"no released model serves the role {role!r}")
    return entries[0]


def resolve_model_dir(explicit: str | os.PathLike | None, role: str = "edit") -> Path:
    """Return the checkpoint directory to use for ``role`` ("asr", "tts", "clone", "edit", "tokenizer"),
    or raise ModelNeededError with one line naming the model and the three ways to provide it."""
    role = canonical_role(role)
    if explicit:
        return check_checkpoint(Path(explicit).expanduser(), role, "--model")
    from_env = os.environ.get(MODEL_ENV)
    if from_env:
        return check_checkpoint(Path(from_env).expanduser(), role, MODEL_ENV)
    for entry in entries_for_role(role):
        found = find_in_cache(entry)
        if found is not None:
            return check_checkpoint(found, role, "cached")
    entry = _needed(role)
    raise ModelNeededError(
        f"{ROLE_TASK.get(role, role)} needs the {entry.repo_id} model: pass --model DIR, "
        f"set {MODEL_ENV}=DIR, or run `ming-edit models pull {entry.name}`"
    )


def text_tokenizer_for(explicit: str | os.PathLike | None, role: str) -> "TextTokenizer":
    """The text tokenizer of the checkpoint serving ``role``, read without the weights: user text is
    checked against its control tokens before a multi-GB load (tokenizers only, no torch)."""
    from ming_edit.model.text_tokenizer import TextTokenizer

    return TextTokenizer.from_dir(resolve_model_dir(explicit, role))


def download_failure_reason(err: BaseException) -> str:
    """A short reason for a failed download: the root cause (e.g. the DNS error under the Hub's
    'cannot find the appropriate snapshot folder' wrapper), cut at a word, never mid-word."""
    root: BaseException = err
    while (root.__cause__ or root.__context__) is not None:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    text = " ".join(str(root).split()) or type(root).__name__
    text = text.split(". ")[0].rstrip(".")
    if len(text) > 120:
        text = text[:120].rsplit(" ", 1)[0] + " ..."
    return text


def pull(name: str) -> Path:
    """Download a registered model into the Hugging Face cache; one clear line when that fails."""
    entry = get_entry(name)
    try:
        from huggingface_hub import snapshot_download

        path = snapshot_download(entry.repo_id, cache_dir=str(hf_cache_dir()))
    except KeyboardInterrupt:
        raise
    except Exception as err:  # offline, DNS, HTTP errors, disk full: all end the same way for the user
        reason = download_failure_reason(err)
        raise MingEditError(
            f"could not download {entry.repo_id} (offline or the Hub refused: {reason}); "
            f"download it elsewhere and pass --model DIR or set {MODEL_ENV}=DIR"
        ) from None
    return Path(path)
