"""The ``naba`` command: one entry point, each stage registers its own subcommands.

Stages are imported lazily, so ``naba data ...`` never pays for importing torch.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import os
import sys

from naba import __version__
from naba.errors import ConfigError, DataError, ModelLoadError

# subcommand -> "module:function"; the function adds that one subcommand to the subparsers
# object and sets ``func`` (args -> exit code) on what it adds.
STAGES = {
    "data": "naba.corpus.commands:register",
    "train": "naba.train.commands:register",
    "eval": "naba.eval.commands:register",
    "predict": "naba.predict.commands:register_predict",
    "tag": "naba.predict.commands:register_tag",
    "render": "naba.predict.commands:register_render",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands take options between their positionals.

    argparse fills a ``nargs="*"``/``"+"`` positional at its first run of values, so ``naba tag MODEL
    --json FILE`` or ``naba data validate a.jsonl --format jsonl b.jsonl`` left the last files
    "unrecognized". A subcommand without subcommands of its own is parsed intermixed (argparse's
    ``parse_known_intermixed_args``), as a user writes them; one that argparse cannot parse so (a
    REMAINDER positional: ``naba train``'s overrides) is parsed as before.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls back into this method
        try:
            return self.parse_known_intermixed_args(args, namespace)
        except TypeError:  # not a shape argparse parses intermixed
            return super().parse_known_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The ``naba`` parser; only the stage named by ``argv[0]`` is imported and registered in full."""
    parser = Parser(prog="naba", description="Arabic news tagger: actors, locations, claims.")
    parser.add_argument("--version", action="version", version=f"naba {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(STAGES) + "}")
    wanted = argv[0] if argv and argv[0] in STAGES else None
    for name, target in STAGES.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name, help=f"see 'naba {name} --help'")
            continue
        module, func = target.split(":")
        getattr(importlib.import_module(module), func)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``naba`` with ``argv`` (default: the process's); return the exit code.

    Bad input ends with a one-line message on stderr, not a traceback: 1 for a
    :class:`DataError`, 2 for a :class:`ConfigError` or :class:`ModelLoadError` (as for bad usage).
    Ctrl-C ends with a one-line message and 130, as shells report SIGINT. ``--help``, ``--version``
    and bad usage raise ``SystemExit`` (0, 0 and 2), as argparse does.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    _utf8_stdout()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # train and predict keep what they finished (checkpoints, written chunks): say how to go on
        again = "; run the same command again to resume" if argv[:1] in (["train"], ["predict"]) else ""
        print(f"naba: interrupted{again}", file=sys.stderr)
        return 130


def _utf8_stdout() -> None:
    """Print UTF-8, as every file naba writes, where stdout's encoding cannot hold Arabic.

    In such a locale (a Latin-1 one, LC_ALL=C with PYTHONUTF8=0, a redirected Windows console)
    the first Arabic span or problem printed was a UnicodeEncodeError traceback part way through
    the output. An explicit PYTHONIOENCODING is the user's choice and is kept.
    """
    stream = sys.stdout
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None or os.environ.get("PYTHONIOENCODING"):
        return
    try:
        if codecs.lookup(stream.encoding).name == "utf-8":
            return
    except (LookupError, TypeError):
        pass
    reconfigure(encoding="utf-8", errors=stream.errors)  # errors kept: surrogateescape round-trips argv bytes


def _main(argv: list[str]) -> int:
    # transformers' per-load "Loading weights" bar buries naba's own output; naba shows its own
    # progress where it matters. Set before any stage imports huggingface_hub; a user's setting wins.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        print(f"naba: {exc}", file=sys.stderr)
        return 1
    except (ConfigError, ModelLoadError) as exc:
        print(f"naba: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `naba data stats ... | head`: the reader left; say nothing more (Python's documented recipe)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
