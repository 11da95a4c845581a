"""``naba train CONFIG [--folds K] [key=value ...]``: the command-line face of :func:`naba.train.loop.train`
(and, with ``--folds``, of :func:`naba.train.folds.cross_validate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def register(subparsers) -> None:
    """Add the ``train`` subcommand to the ``naba`` parser."""
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a token classifier (a killed run resumes when started again)",
        description=(
            "Train from a YAML config that overrides naba's defaults, then key=value overrides "
            "(dotted: optim.lr=3e-5). Data paths in the file are relative to the file's folder's "
            "parent (the repository root for configs/*.yaml); paths on the command line to the "
            "current directory. Run the same command again to resume a killed run (one moved or renamed since: "
            "with run.dir and run.name naming its new place). --folds K trains K "
            "cross-validation folds of data.train and writes their mean and sd to RUN_DIR/cv.json. Works under "
            "'accelerate launch -m naba.train' and 'torchrun -m naba.train'."
        ),
    )
    parser.add_argument("config", nargs="?", help="YAML config file, e.g. configs/demo.yaml")
    # REMAINDER, so that options may also come after the overrides (argparse cannot split "*")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, metavar="key=value", help="override one setting")
    _add_flags(parser)
    parser.set_defaults(func=run, print_help=parser.print_help)


def _add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--folds", type=_fold_count, metavar="K",
                        help="K-fold cross-validation over data.train: K runs in RUN_DIR/folds/, mean ± sd in RUN_DIR/cv.json")


def _fold_count(value: str) -> int:
    # checked as it is parsed: --folds 1 --print-config printed the config and exited 0
    # int() itself decides what is a number: "²" passed str.isdigit and then int() failed, which argparse
    # reported as "invalid _fold_count value"
    try:
        k = int(value)
    except ValueError:
        k = None
    if k is None or k < 2:
        raise argparse.ArgumentTypeError(f"cross-validation needs a whole number of at least 2 folds, not {value!r}")
    return k


def run(args: argparse.Namespace) -> int:
    from naba.errors import ConfigError
    from naba.train.config import load_config

    if any(a in ("-h", "--help") for a in args.overrides):
        # after the config, REMAINDER took it for an override ("'--help': overrides are key=value")
        args.print_help()
        return 0
    late = argparse.ArgumentParser(prog="naba train", add_help=False)
    _add_flags(late)
    flags, overrides = late.parse_known_args(args.overrides)
    print_config = args.print_config or flags.print_config
    no_progress = args.no_progress or flags.no_progress
    folds = flags.folds if flags.folds is not None else args.folds
    config = args.config
    # "naba train optim.lr=1e-4" with no file: the first override is not a config path
    if config is not None and "=" in config and not Path(config).exists():
        config, overrides = None, [config, *overrides]
    # a config file after an override (or a second one) was "'configs/demo.yaml': overrides are key=value"
    stray = next((o for o in overrides if "=" not in o and o.lower().endswith((".yaml", ".yml"))), None)
    if stray is not None:
        raise ConfigError(f"command line: {stray!r}: naba train takes one config file, before the overrides: "
                          "naba train CONFIG [key=value ...]")
    cfg = load_config(config, overrides)
    if print_config:
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), end="")
        return 0
    if folds is not None:
        from naba.train.folds import cross_validate

        cross_validate(cfg, folds, show_progress=not no_progress)
        return 0
    from naba.train.loop import train

    train(cfg, show_progress=not no_progress)
    return 0
