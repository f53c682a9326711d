"""The ``dislab`` command.

Each subcommand lives in the module that owns its feature and exposes two functions::

    add_arguments(parser: argparse.ArgumentParser) -> None
    main(args: argparse.Namespace) -> int | None

Modules are imported only for the subcommand that runs, so ``dislab --help`` is instant. User errors
(:class:`dislab.errors.DislabError`, ``ValueError``, missing files) print one clear line and exit 2;
``--traceback`` shows the full trace instead.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Order is the order of `dislab --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("dislab.demo", "train β-TCVAE on the built-in dSprites, evaluate it and write its report"),
    "train": ("dislab.training.cli", "train a model (or resume a run) into a run folder"),
    "evaluate": ("dislab.metrics.cli", "compute disentanglement metrics of a run; writes evaluation.json"),
    "traverse": ("dislab.viz.cli_traverse", "draw latent traversals of a run (PNG grid or animated GIF)"),
    "report": ("dislab.viz.cli_report", "write a self-contained report.html for a run"),
    "diagnose": ("dislab.diagnostics.cli", "why does it disentangle? decoder orthogonality, polarisation, PCA alignment"),
    "sweep": ("dislab.studies.cli_sweep", "run a study: many models, seeds and settings, resumable"),
    "udr": ("dislab.studies.cli_udr", "unsupervised disentanglement ranking over a study's runs"),
    "results": ("dislab.studies.cli_results", "aggregate a study's scores into a table and figures"),
    "reproduce": ("dislab.reproduce.cli", "reproduce a published finding: sweep, evaluate, check its claims"),
    "datasets": ("dislab.data.cli", "list, show and export the ground-truth datasets"),
}


def _top_parser() -> argparse.ArgumentParser:
    from dislab import __version__

    parser = argparse.ArgumentParser(
        prog="dislab",
        description="Learn disentangled representations and measure them.",
    )
    parser.add_argument("--version", action="version", version=f"dislab {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    return parser


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (all help lines come from COMMANDS)."""
    parser = _top_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module_name, help_line) in COMMANDS.items():
        p = sub.add_parser(name, help=help_line, description=help_line)
        if name == command:
            importlib.import_module(module_name).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dislab.errors import DislabError

    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("dislab: interrupted", file=sys.stderr)
        return 130
    except (DislabError, ValueError, FileNotFoundError, FileExistsError, KeyError) as e:
        if args.traceback:
            raise
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"dislab {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
