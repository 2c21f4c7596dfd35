"""Typer command groups that cli.py registers. Modules here must not import torch at import time."""
