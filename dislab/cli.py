"""The ``dislab`` command.

Each subcommand lives in the module that owns its feature and exposes two functions::

    add_arguments(parser: argparse.ArgumentParser) -> None
    main(args: argparse.Namespace) -> int | None

Modules are imported only for the subcommand that runs, so ``dislab --help`` is instant. User errors
(:class:`dislab.errors.DislabError`, ``ValueError``, ``KeyError``, every ``OSError``: a missing,
unreadable or unwritable file, a read-only or full disk) print one clear line and exit 2;
``--traceback`` shows the full trace instead. :func:`user_message` is the one place that decides.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import re
import sys

# name -> (module, one-line help). Order is the order of `dislab --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("dislab.demo", "train β-TCVAE on the built-in dSprites, evaluate it and write its report"),
    "train": ("dislab.training.cli", "train a model (or resume a run) into a run folder"),
    "evaluate": ("dislab.runs.cli_evaluate", "compute disentanglement metrics of a run; writes evaluation.json"),
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


# What to do about an OSError, by errno; the message already says what happened.
OS_HINTS = {
    errno.ENOSPC: "free some space, then run the command again",
    errno.EDQUOT: "free some space, then run the command again",
    errno.EROFS: "write to a folder on a writable disk instead",
    errno.EACCES: "check the permissions of this path, or use another folder",
    errno.EPERM: "check the permissions of this path, or use another folder",
    errno.ENOTDIR: "a part of this path is a file, not a folder",
    errno.EISDIR: "this is a folder; a file was expected",
    errno.EMFILE: "raise the limit (ulimit -n) or use fewer workers",
}


def os_message(e: OSError) -> str:
    """``PATH: strerror (what to do)`` for an OSError that names its file; its own text otherwise
    (dislab raises ``FileNotFoundError("PATH: ...")`` with a sentence of its own)."""
    if e.strerror is None:
        return str(e)
    where = "" if e.filename is None else f"{e.filename}: "
    if e.filename2 is not None:
        where = f"{e.filename} -> {e.filename2}: "
    hint = OS_HINTS.get(e.errno)
    return f"{where}{e.strerror}" + (f" ({hint})" if hint else "")


def user_message(e: BaseException) -> str | None:
    """The one line the command prints for ``e``, or None when ``e`` is a bug (shown with its
    traceback). User errors are dislab's own (DislabError), ValueError (a bad value), KeyError
    (a missing entry), every OSError (files, folders, disks) and torch's refusal to load weights
    of other shapes (a config.json edited after training, found while resuming)."""
    from dislab.errors import DislabError

    if isinstance(e, (DislabError, ValueError)):
        return str(e)
    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else "missing key"
    if isinstance(e, OSError):
        return os_message(e)
    if isinstance(e, RuntimeError) and str(e).startswith("Error(s) in loading state_dict"):
        m = re.search(r"size mismatch for ([^:]+): copying a param with shape (\S+\(\[[^]]*\]\)) from "
                      r"checkpoint, the shape in current model is (\S+\(\[[^]]*\]\))", str(e))
        detail = f" ({m.group(1)} is {m.group(2)} in the file, {m.group(3)} in the model)" if m else ""
        return ("the saved weights do not fit the model that the run's config.json describes" + detail
                + "; config.json and the weights disagree (was config.json edited after training?)")
    return None


# Options whose value is one KEY=VALUE word.
KEY_VALUE_OPTIONS = ("--set", "--option")


def key_value_hint(argv: list[str], extra: list[str]) -> str | None:
    """``--set steps 5`` leaves ``5`` unrecognised and argparse says only that; name the likely
    slip instead: ``--set expects KEY=VALUE; did you mean --set steps=5?``."""
    for i, word in enumerate(argv[:-2]):
        key, value = argv[i + 1], argv[i + 2]
        if word in KEY_VALUE_OPTIONS and "=" not in key and value in extra and not value.startswith("-"):
            return f"{word} expects KEY=VALUE; did you mean {word} {key}={value}?"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    if extra:
        hint = key_value_hint(argv, extra)
        if hint:
            print(f"dislab {args.command}: error: {hint}", file=sys.stderr)
            return 2
        parser.parse_args(argv)  # argparse's own message and exit status for the rest
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("dislab: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - user_message decides; bugs are re-raised
        message = user_message(e)
        if message is None or args.traceback:
            raise
        print(f"dislab {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
