"""`passk serve MODEL`: an OpenAI-compatible completions server over a local model."""

from __future__ import annotations

import argparse
from typing import Any

from passk.cli.options import positive_int


def register(commands: Any) -> None:
    p = commands.add_parser(
        "serve",
        help="serve a local model over an OpenAI-compatible API (/v1/completions, "
        "/v1/chat/completions, /v1/models)",
        description="Serve MODEL (a local Hugging Face model directory) with OpenAI's "
        "completions and chat APIs, so that any OpenAI client, or passk generate openai:URL "
        "or openai-chat:URL, can sample it.",
    )
    p.add_argument("model", metavar="MODEL", help="local model directory")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=positive_int, default=8000, help="port (default: 8000)")
    p.add_argument(
        "--batch-size", type=positive_int, default=32, help="rows decoded together (default: 32)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from passk.generation.local import LocalBackend
    from passk.generation.server import serve

    backend = LocalBackend(Path(args.model), batch_size=args.batch_size)
    try:
        serve(backend, host=args.host, port=args.port)
    finally:
        backend.close()
    return 0
