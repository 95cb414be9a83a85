"""Saving and restoring the embedded emulator's state, so a local stack survives ``down``/``up``.

moto keeps everything in memory, in one ``BackendDict`` per service (account -> region ->
backend object). A snapshot pickles the backends that hold anything, all in one pickle so that
objects shared between services (a DynamoDB table and its stream, a Lambda function and its event
source mappings) stay shared after a restore. A few of moto's attributes cannot be pickled as
they are and are rebuilt instead: locks (new, unlocked locks), ``WeakValueDictionary`` (rebuilt
from its live values), ``defaultdict`` with a lambda factory (the factory's result is copied)
and private keys (KMS's keys, through PEM).

A snapshot is only restored into the same moto version (its model classes change between
versions); anything else is reported as a :class:`SnapshotError` and the caller starts afresh.
Restore before the emulator serves its first request.
"""

from __future__ import annotations

import collections
import copy
import functools
import importlib
import io
import os
import pickle
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

FORMAT = 1

_RLOCK = type(threading.RLock())
_LOCK = type(threading.Lock())


class SnapshotError(Exception):
    """A snapshot could not be written or restored."""


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def _rebuild_defaultdict(sample: Any, items: dict[Any, Any]) -> collections.defaultdict[Any, Any]:
    d: collections.defaultdict[Any, Any] = collections.defaultdict(
        functools.partial(copy.deepcopy, sample)
    )
    d.update(items)
    return d


def _private_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _RLOCK):
            return (threading.RLock, ())
        if isinstance(obj, _LOCK):
            return (threading.Lock, ())
        if isinstance(obj, weakref.WeakValueDictionary):
            return (weakref.WeakValueDictionary, (dict(obj),))
        if type(obj).__module__.startswith("cryptography") and hasattr(obj, "private_bytes"):
            return (_load_private_key, (_private_pem(obj),))
        if isinstance(obj, collections.defaultdict):
            factory = obj.default_factory
            if factory is not None and "<locals>" in getattr(factory, "__qualname__", "<locals>"):
                return (_rebuild_defaultdict, (factory(), dict(obj)))
        return NotImplemented


def _backend_dicts() -> dict[str, Any]:
    """Every moto ``BackendDict`` imported so far, as ``"module:attribute" -> BackendDict``."""
    from moto.core.base_backend import BackendDict

    found: dict[str, Any] = {}
    seen: set[int] = set()
    for modname, mod in list(sys.modules.items()):
        if not modname.startswith("moto.") or mod is None:
            continue
        for attr, val in list(vars(mod).items()):
            if isinstance(val, BackendDict) and id(val) not in seen:
                seen.add(id(val))
                found[f"{modname}:{attr}"] = val
    return found


def dumps(meta: dict[str, Any] | None = None) -> bytes:
    """The state of every moto service that holds something, as bytes (with ``meta``, a small
    dict the caller gets back from :func:`load_meta`: the journal position, for one)."""
    backends: dict[str, dict[str, dict[str, Any]]] = {}
    for key, bd in sorted(_backend_dicts().items()):
        accounts = {acct: dict(asb) for acct, asb in bd.items() if len(asb)}
        if accounts:
            backends[key] = accounts
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(
            {"format": FORMAT, "moto": _moto_version(), "meta": meta or {}, "backends": backends}
        )
    except Exception as exc:  # any of moto's objects may refuse
        raise SnapshotError(f"cannot snapshot the emulator: {exc!r}") from exc
    return buf.getvalue()


def loads(blob: bytes) -> list[str]:
    """Put a snapshot's backends in place; returns the services restored.

    Raises :class:`SnapshotError` when the snapshot is unreadable or from another moto version.
    """
    return loads_with_meta(blob)[0]


def loads_with_meta(blob: bytes) -> tuple[list[str], dict[str, Any]]:
    """:func:`loads`, and the ``meta`` the snapshot was saved with."""
    try:
        snap = pickle.loads(blob)
    except Exception as exc:
        raise SnapshotError(f"unreadable snapshot: {exc!r}") from exc
    if not isinstance(snap, dict) or snap.get("format") != FORMAT:
        raise SnapshotError("snapshot format not recognised")
    if snap.get("moto") != _moto_version():
        raise SnapshotError(
            f"snapshot taken with moto {snap.get('moto')}, this is moto {_moto_version()}"
        )
    restored = []
    for key, accounts in snap["backends"].items():
        modname, attr = key.split(":")
        bd = getattr(importlib.import_module(modname), attr)
        for acct, regions in accounts.items():
            asb = bd[acct]
            for region, backend in regions.items():
                dict.__setitem__(asb, region, backend)
        restored.append(modname.split(".")[1])
    return sorted(set(restored)), dict(snap.get("meta") or {})


def save(path: Path, meta: dict[str, Any] | None = None, fsync: bool = False) -> int:
    """Write a snapshot to ``path`` atomically; returns its size in bytes. With ``fsync``, the
    file and the rename are on disk when this returns (a journal may be emptied then)."""
    return write(path, dumps(meta), fsync=fsync)


def write(path: Path, blob: bytes, fsync: bool = False) -> int:
    """Write ``blob`` (:func:`dumps`' bytes, or a trimmed journal) to ``path`` atomically, as
    :func:`save`; returns its size."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(blob)
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if fsync:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return len(blob)


def load(path: Path) -> list[str]:
    return loads(path.read_bytes())


def load_with_meta(path: Path) -> tuple[list[str], dict[str, Any]]:
    return loads_with_meta(path.read_bytes())
