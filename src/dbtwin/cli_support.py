"""What every ``dbtwin`` command shares: one-line errors (exit code 2, never a traceback), user data
printed as text and never as Rich markup, and checks of option values made before any expensive work.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from dbtwin.errors import DbtwinError, OptionError, driver_message

if TYPE_CHECKING:
    from dbtwin.config import SynthesizerConfig

log = logging.getLogger("dbtwin.cli")
err_console = Console(stderr=True, soft_wrap=True)

#: Largest seed accepted (NumPy and PyTorch both take any integer in [0, 2**63)).
MAX_SEED = 2**63 - 1


def fail(exc: BaseException | str, hint: str | None = None) -> None:
    """Print ``error: <message>`` as one line (the message escaped, so names such as ``[/x]`` print as
    they are) and exit with code 2."""
    message = str(exc)  # dbtwin's own lists (one problem a line) keep their lines; anything else is one line
    if not (isinstance(exc, DbtwinError) and "\n" in message):
        message = " ".join(message.split())
    err_console.print(f"[bold red]error:[/] {escape(message)}" + (f" [dim]({escape(hint)})[/]" if hint else ""))
    raise typer.Exit(code=2)


@contextmanager
def guard() -> Iterator[None]:
    """Turn every error of a command into :func:`fail`'s one line: dbtwin's own errors and bad input
    (``OSError``, ``ValueError``) as they are; anything else as an internal error whose traceback
    ``--verbose`` shows. Ctrl-C exits with code 130 after the writers have cleaned up."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing half-written was left behind")
        raise typer.Exit(code=130) from None
    except (DbtwinError, OSError, ValueError) as exc:
        _details()
        fail(_os_message(exc) if isinstance(exc, OSError) else exc)
    except ModuleNotFoundError as exc:  # an optional dependency of this command
        fail(
            f"this command needs the Python package '{exc.name}', which is not installed",
            hint="pip install -c constraints.txt -e '.[predict,bench]'",
        )
    except Exception as exc:
        import sqlalchemy as sa

        verbose = _details()
        if isinstance(exc, sa.exc.SQLAlchemyError):  # the server refused something: its own first line
            fail(f"the database refused: {driver_message(exc)}", hint=None if verbose else "run with -v for details")
        fail(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="a bug in dbtwin" + ("" if verbose else "; run with -v for its traceback"),
        )


def _details() -> bool:
    """With ``-v``, the traceback of the error being handled, above its one-line message."""
    if not log.isEnabledFor(logging.INFO):
        return False
    import traceback

    traceback.print_exc(file=sys.stderr)
    return True


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: '{exc.filename}'"
    return str(exc)


def text(value: object) -> str:
    """User data (a table name, a value, a path) fit for a Rich table cell or console line."""
    return escape(str(value))


# ----------------------------------------------------------------------------------- option checks
def choice(option: str, value: str, choices: tuple[str, ...] | list[str]) -> str:
    if value not in choices:
        raise OptionError(option, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def positive(option: str, value: float | int | None, integer: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value <= 0:
        raise OptionError(option, f"must be a positive {'whole ' if integer else ''}number, not {value}")


def non_negative_int(option: str, value: int | None, upper: int | None = None) -> None:
    if value is None:
        return
    if value < 0 or (upper is not None and value > upper):
        bound = f" at most {upper}" if upper is not None else ""
        raise OptionError(option, f"must be a whole number from 0{bound}, not {value}")


def privacy(epsilon: float | None, delta: float | None, structure: str | None) -> None:
    """``--epsilon``, ``--delta`` and ``--structure`` fit together: no delta without epsilon, no
    structure but ``degree`` under DP, and a budget the accountant can split at all."""
    if epsilon is None:
        if delta is not None:
            raise OptionError("--delta", "only means something with --epsilon (a differentially private fit)")
        return
    if delta is not None and not 0 < delta < 1:
        raise OptionError("--delta", f"must lie strictly between 0 and 1, not {delta}")
    if structure not in (None, "degree"):
        raise OptionError(
            "--structure",
            f"'{structure}' cannot be fitted with --epsilon: a DP fit draws links from noised degree "
            "histograms (--structure degree)",
        )
    from dbtwin.privacy.budget import PrivacyBudget

    try:  # the most favourable split (one step, a tiny sampling rate): if even it fails, nothing will
        PrivacyBudget.plan(epsilon, delta or 1e-5, 1, 1e-9, 1.0)
    except ValueError:
        raise OptionError(
            "--epsilon", f"{epsilon:g} is too small a budget: no amount of noise keeps a fit within it; try 0.5 or more"
        ) from None


def seed(value: int | None) -> None:
    non_negative_int("--seed", value, MAX_SEED)


def device(option: str, value: str) -> str:
    """``value`` if it names a device torch sees (``auto``, ``cpu``, ``cuda``, ``cuda:N``), with torch's
    CPU threads limited to the CPUs this process may use; else an OptionError naming ``option``."""
    from dbtwin.nn.device import limit_cpu_threads, resolve_device

    try:
        resolve_device(value)
    except OptionError as exc:
        raise OptionError(option, str(exc).removeprefix(f"{exc.option}: ")) from None
    limit_cpu_threads()
    return value


#: Config options whose command-line option has another name.
CLI_NAMES = {"train_steps": "--steps", "num_hops": "--hops", "random_state": "--seed", "relations": "--relations"}


def fit_config(path: Path | None, options: dict[str, Any]) -> SynthesizerConfig:
    """The config of ``dbtwin fit``: the file at ``path`` (a config, or a model's ``config.json``) or
    the defaults, with the ``options`` given on the command line (by their flat names) over it; its
    device checked. A bad file or value is an OptionError naming the option."""
    from dbtwin.config import SynthesizerConfig

    base = SynthesizerConfig()
    if path is not None:
        from dbtwin.jsonfile import read_json

        data = read_json(path, "config file")
        if isinstance(data, dict) and data.get("format") == "dbtwin-model":
            data = data.get("config", {})  # a model directory's config.json: the options it was fitted with
        try:
            base = SynthesizerConfig.from_dict(data)
        except OptionError as exc:
            raise OptionError("--config", f"'{path}': {exc}") from None
    with cli_names():
        settings = base.replace(**options)
    device("--device", settings.training.device)
    return settings


def listed(values: list[str] | None) -> list[str]:
    """The names an option takes comma-separated or repeated (``--keep a,b --keep c``), in order."""
    return [name for value in values or [] for name in value.split(",") if name]


@contextmanager
def cli_names() -> Iterator[None]:
    """An :class:`OptionError` raised inside names the option as the command line spells it
    (``train_steps`` -> ``--steps``, ``keep_lookups`` -> ``--keep-lookups``)."""
    try:
        yield
    except OptionError as exc:
        if exc.option.startswith("-"):
            raise
        name = CLI_NAMES.get(exc.option, "--" + exc.option.replace("_", "-"))
        raise OptionError(name, str(exc).removeprefix(f"{exc.option}: ")) from None


__all__ = [
    "CLI_NAMES",
    "MAX_SEED",
    "choice",
    "cli_names",
    "device",
    "err_console",
    "fail",
    "fit_config",
    "guard",
    "listed",
    "non_negative_int",
    "positive",
    "privacy",
    "seed",
    "text",
]
