"""The `passk` command: argument parsing and printing around the library's functions.

Each subcommand calls one library function; library errors (`PasskError`) become one line on
stderr and a non-zero exit status. Set PASSK_DEBUG=1 to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from passk.errors import PasskError

PROG = "passk"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.handler(args))
    except PasskError as e:
        if os.environ.get("PASSK_DEBUG"):
            raise
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`passk problems | head`): not an error; keep Python quiet at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM stops a run the way Ctrl-C does: finished work is kept for --resume.
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    from passk import __version__
    from passk.cli import (
        bleu_command,
        corpus_command,
        evaluate_command,
        finetune_command,
        generate_command,
        mine_command,
        problems_command,
        rank_command,
        report_command,
        run_command,
        scaling_command,
        serve_command,
        sweep_command,
        tokenizer_command,
        train_command,
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Judge code models by running their code: pass@k after Chen et al. (2021).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run_command.register(commands)
    generate_command.register(commands)
    evaluate_command.register(commands)
    serve_command.register(commands)
    problems_command.register(commands)
    corpus = corpus_command.register(commands)
    tokenizer_command.register_tokenize(corpus)
    tokenizer_command.register(commands)
    mine_command.register(commands)
    sweep_command.register(commands)
    rank_command.register(commands)
    bleu_command.register(commands)
    report_command.register(commands)
    train_command.register(commands)
    finetune_command.register(commands)
    scaling_command.register(commands)
    return parser
