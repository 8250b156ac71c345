"""Hugging Face model directories, as `save_pretrained` writes them: what one must hold, how to
load from one alone, and how long a context its model takes.

Sampling (`passk.generation.local`) reads them and training (`passk.training`) reads and
writes them; the checks live here so that both refuse a directory in the same words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from passk.errors import InputError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")
"""Files of which a model directory's tokenizer has at least one."""
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "seq_length", "max_seq_len")


def check_model_dir(path: Path) -> None:
    """Raise an InputError naming what a model directory lacks."""
    if not path.exists():
        raise InputError(f"model directory {path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a directory (a Hugging Face model directory is)")
    if not (path / "config.json").is_file():
        raise InputError(f"model directory {path} has no config.json")
    if not any(path.glob("*.safetensors")):
        raise InputError(f"model directory {path} has no safetensors weights (*.safetensors)")
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise InputError(f"model directory {path} has no tokenizer (tokenizer.json or similar)")


def load_pretrained(auto: Any, path: Path, **kwargs: Any) -> Any:
    """`auto.from_pretrained` (AutoConfig, AutoTokenizer, ...) from the directory alone, its
    errors turned into one line."""
    try:
        return auto.from_pretrained(path, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot load {path}: {first_line}") from e


def context_window(config: Any, tokenizer: Any, path: Path) -> int:
    """How many tokens the model of `config` attends to: its config's positions, or else its
    tokenizer's limit."""
    text_config = config.get_text_config()
    for key in CONTEXT_KEYS:
        if isinstance(value := getattr(text_config, key, None), int):
            return value
    # Tokenizers without a limit report a huge sentinel (1e30).
    if isinstance(limit := getattr(tokenizer, "model_max_length", None), int) and limit < 10**9:
        return limit
    raise InputError(f"{path}: config.json does not give the context window ({CONTEXT_KEYS[0]})")
