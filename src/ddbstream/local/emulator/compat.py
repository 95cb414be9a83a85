"""Which moto the emulator's patches are written for, and the checks that hold them to it.

The supported range is declared once, as the ``local`` extra's moto requirement in
``pyproject.toml``; :func:`supported_moto` reads it back from the installed package's metadata.
:func:`check_moto_version` refuses any other moto before a patch is applied, and every patch
takes the moto attribute it replaces through :func:`original`, which checks that the attribute
exists and (where given) takes the parameters the patch passes on. A moto release that moves
one of them stops ``ddbstream up`` with one line naming both versions, instead of a 404 or a
500 from inside ``terraform apply``.
"""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version

from ddbstream.errors import UserError

#: What to run when the installed moto is not one the patches know.
REINSTALL_HINT = "run `make venv` to install the locked versions (uv.lock)"


class UnsupportedMotoError(UserError):
    """The installed moto is outside the range the emulator's patches are written for, or one
    of the attributes a patch replaces is missing or has another shape."""

    exit_code = 2


def installed_moto() -> str:
    """The installed moto's version ("not installed" when there is none)."""
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return "not installed"


def supported_moto() -> str | None:
    """The moto versions the patches support, as ``pyproject.toml``'s ``local`` extra states
    them (e.g. ``>=5.2.5,<5.3``); None when ddbstream's own metadata is not installed."""
    try:
        requirements = metadata.requires("ddbstream") or []
    except metadata.PackageNotFoundError:
        return None
    for text in requirements:
        req = Requirement(text)
        if req.name == "moto":
            # lower bounds first: ">=5.2.6,<5.3", as pyproject.toml writes it
            return ",".join(sorted(map(str, req.specifier), key=lambda s: s[0] != ">"))
    return None


def check_moto_version() -> None:
    """Refuse a moto outside :func:`supported_moto` (raises :class:`UnsupportedMotoError`)."""
    supported = supported_moto()
    installed = installed_moto()
    if supported is None:
        return
    from packaging.specifiers import SpecifierSet

    if installed == "not installed" or Version(installed) not in SpecifierSet(supported):
        raise UnsupportedMotoError(
            f"moto {installed} is installed, but the local stack's emulator supports moto"
            f"{supported}; {REINSTALL_HINT}"
        )


def original(owner: Any, name: str, *params: str) -> Any:
    """``owner.name`` as moto defines it, checked before a patch replaces or wraps it: it must
    exist and, when ``params`` are given, be a function whose leading parameters (after
    ``self``) have those names, the ones the patch passes on."""
    found = inspect.getattr_static(owner, name, None)
    where = f"{getattr(owner, '__module__', '?')}.{getattr(owner, '__qualname__', owner)}.{name}"
    if found is None:
        raise moved(f"{where} is missing")
    value = getattr(owner, name)
    if params:
        func = value.fget if isinstance(value, property) else value
        try:
            names = list(inspect.signature(func).parameters)
        except (TypeError, ValueError):
            raise moved(f"{where} is not a function") from None
        if names and names[0] in ("self", "cls"):
            names = names[1:]
        if names[: len(params)] != list(params):
            raise moved(f"{where} takes ({', '.join(names)}), expected ({', '.join(params)})")
    return value


def moved(what: str) -> UnsupportedMotoError:
    supported = supported_moto() or "(range unknown: ddbstream is not installed)"
    return UnsupportedMotoError(
        f"the emulator cannot patch moto {installed_moto()}: {what} (supported: moto"
        f"{supported}); {REINSTALL_HINT}"
    )
