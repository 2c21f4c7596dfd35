"""Model discovery (--model, MING_EDIT_MODEL, Hugging Face cache) and `ming-edit models ...`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ming_edit.model import hub
from ming_edit.errors import CheckpointError, ModelNeededError

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache and no MING_EDIT_MODEL, whatever the machine has."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv(hub.MODEL_ENV, raising=False)
    return cache


def fake_snapshot(cache: Path, repo_id: str, source: Path = GOLDEN, revision: str = "0" * 40) -> Path:
    """A hub-cache layout (blobs + snapshot symlinks + refs/main) holding ``source``'s files."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True)
    for i, f in enumerate(sorted(p for p in source.iterdir() if p.is_file())):
        blob = repo / "blobs" / f"blob{i}"
        os.link(f, blob) if f.stat().st_size > 1_000_000 else blob.write_bytes(f.read_bytes())
        (snapshot / f.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def cli() -> typer.Typer:
    from ming_edit.cli.app import app

    return app


def test_registry_lists_the_released_checkpoints():
    entries = {e.repo_id: e for e in hub.load_registry()}
    assert set(entries) == {"inclusionAI/Ming-UniAudio-16B-A3B", "inclusionAI/Ming-UniAudio-16B-A3B-Edit",
                            "inclusionAI/MingTok-Audio"}
    assert entries["inclusionAI/Ming-UniAudio-16B-A3B"].roles == ("asr", "tts", "clone")
    assert entries["inclusionAI/Ming-UniAudio-16B-A3B-Edit"].roles == ("edit",)
    assert entries["inclusionAI/MingTok-Audio"].kind == "audio_vae"
    assert hub.get_entry("ming-uniaudio-16b-a3b-edit").name == "ming-uniaudio-edit"
    assert [e.name for e in hub.entries_for_role("clone")] == ["ming-uniaudio"]


def test_explicit_dir_then_environment(monkeypatch):
    assert hub.resolve_model_dir(GOLDEN, "asr") == GOLDEN.resolve()
    monkeypatch.setenv(hub.MODEL_ENV, str(GOLDEN))
    assert hub.resolve_model_dir(None, "edit") == GOLDEN.resolve()
    with pytest.raises(CheckpointError, match="checkpoint directory does not exist"):
        hub.resolve_model_dir("/nonexistent/ckpt", "tts")
    monkeypatch.setenv(hub.MODEL_ENV, "/nonexistent/ckpt")
    with pytest.raises(CheckpointError, match="MING_EDIT_MODEL"):
        hub.resolve_model_dir(None, "tts")


def test_missing_model_names_it_and_the_three_ways():
    with pytest.raises(ModelNeededError) as err:
        hub.resolve_model_dir(None, "edit")
    message = str(err.value)
    assert "\n" not in message
    for part in ("inclusionAI/Ming-UniAudio-16B-A3B-Edit", "--model DIR", "MING_EDIT_MODEL=DIR",
                 "ming-edit models pull ming-uniaudio-edit"):
        assert part in message


def test_found_in_the_hugging_face_cache_per_role(isolated_cache):
    snapshot = fake_snapshot(isolated_cache, "inclusionAI/Ming-UniAudio-16B-A3B")
    assert hub.resolve_model_dir(None, "tts") == snapshot.resolve()
    assert hub.resolve_model_dir(None, "clone") == snapshot.resolve()
    with pytest.raises(ModelNeededError, match="Edit"):
        hub.resolve_model_dir(None, "edit")  # the base model does not serve the edit role


def test_snapshot_without_refs_and_incomplete_snapshots(isolated_cache):
    snapshot = fake_snapshot(isolated_cache, "inclusionAI/Ming-UniAudio-16B-A3B-Edit", revision="a" * 40)
    (snapshot.parents[1] / "refs" / "main").unlink()  # downloaded at a pinned revision
    assert hub.resolve_model_dir(None, "edit") == snapshot.resolve()
    (snapshot / "model.safetensors").unlink()  # an interrupted download is not a checkpoint
    with pytest.raises(ModelNeededError):
        hub.resolve_model_dir(None, "edit")


def test_tokenizer_only_checkpoint_is_refused_for_speech_roles(tmp_path):
    from benchmarks.checkpoints import mingtok_config

    tok = tmp_path / "mingtok"
    tok.mkdir()
    (tok / "config.json").write_text(json.dumps(mingtok_config()))
    with pytest.raises(CheckpointError, match="tokenizer checkpoint.*Ming-UniAudio-16B-A3B"):
        hub.resolve_model_dir(tok, "tts")


def test_models_list_and_path(isolated_cache):
    runner = CliRunner()
    result = runner.invoke(cli(), ["models", "list"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("ming-uniaudio", "ming-uniaudio-edit", "mingtok-audio", "inclusionAI/MingTok-Audio"):
        assert name in result.output
    result = runner.invoke(cli(), ["models", "path", "ming-uniaudio"])
    assert result.exit_code != 0 and "models pull ming-uniaudio" in result.output

    snapshot = fake_snapshot(isolated_cache, "inclusionAI/Ming-UniAudio-16B-A3B")
    result = runner.invoke(cli(), ["models", "path", "inclusionAI/Ming-UniAudio-16B-A3B"])
    assert result.exit_code == 0 and result.output.strip() == str(snapshot)
    result = runner.invoke(cli(), ["models", "list"], terminal_width=300)
    assert str(snapshot)[:30] in result.output  # found locally, with its real size
    result = runner.invoke(cli(), ["models", "path", "nonsense"])
    assert result.exit_code == 2 and "unknown model" in result.output


def test_models_pull_offline_is_one_line(monkeypatch):
    import huggingface_hub

    calls = []

    def offline(repo_id, **kwargs):
        calls.append(repo_id)
        raise huggingface_hub.errors.LocalEntryNotFoundError(
            "Cannot find the requested files in the disk cache and outgoing traffic has been disabled.")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    result = CliRunner().invoke(cli(), ["models", "pull", "mingtok-audio"])
    assert calls == ["inclusionAI/MingTok-Audio"]
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ming-edit: error: could not download inclusionAI/MingTok-Audio")


def test_registry_reads_without_torch():
    import subprocess
    import sys

    code = ("import sys, ming_edit.model.hub as r, ming_edit.cli.speech;"
            "r.load_registry(); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_download_failure_names_the_root_cause_without_cutting_words():
    from ming_edit.model.hub import download_failure_reason

    try:
        try:
            raise OSError("[Errno -2] Name or service not known")
        except OSError as dns:
            raise RuntimeError("Got: ConnectError: [Errno -2] Name or service not known\nAn error happened "
                               "while trying to locate the files on the Hub, and we cannot find the "
                               "appropriate snapshot folder for the specified revision") from dns
    except RuntimeError as err:
        assert download_failure_reason(err) == "[Errno -2] Name or service not known"
    long = RuntimeError("word " * 60)
    reason = download_failure_reason(long)
    assert reason.endswith(" ...") and len(reason) <= 124 and "wor ..." not in reason
