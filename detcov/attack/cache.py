"""A normalised cache of :class:`AttackData`, keyed by the bundle's SHA-256 and detcov's version. No pickle.

File layout: one header line of JSON (magic, format, detcov version, bundle and payload SHA-256, payload
length) then the payload: every model as a row (a JSON array of its fields), written with orjson.
A truncated, corrupt or foreign file fails the header/length/checksum test and is rebuilt.
Writes go to a temporary file and are renamed into place, so a killed run never leaves half a cache.

Hashing a 33 MB bundle costs as much as reading the cache, so the bundle's hash is remembered per
(path, size, mtime) in ``bundle-hashes.json``, as git's index does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import orjson
import platformdirs

from detcov import __version__
from detcov.attack import model
from detcov.attack.loader import AttackData, LazySections
from detcov.fileio import atomic_write

MAGIC = "detcov-attack-cache"
FORMAT = 4  # 4: log-source channels normalised (ATT&CK 18's "None" → "")
T = TypeVar("T")
Decoder = Callable[[Any], Any]


def cache_dir() -> Path:
    """``$DETCOV_CACHE_DIR`` or the user cache dir (``~/.cache/detcov`` on Linux)."""
    env = os.environ.get("DETCOV_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("detcov", appauthor=False))


# ----- codec: orjson writes dataclasses natively (as objects); decoding rebuilds tuples and nested models ---------
def _field_decoder(hint: Any) -> Decoder | None:
    """A function turning the JSON value of a field back into its type, or None when it is already right."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        item = _field_decoder(args[0])
        if item is None:
            return tuple
        return lambda v: tuple(map(item, v))
    if origin in (typing.Union, types.UnionType):
        inner = _field_decoder(next(a for a in args if a is not type(None)))
        if inner is None:
            return None
        return lambda v: None if v is None else inner(v)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _object_decoder(hint)
    return None


_DECODERS: dict[type, Decoder] = {}


def _object_decoder(cls: type[T]) -> Callable[[dict[str, Any]], T]:
    if cls in _DECODERS:
        return _DECODERS[cls]
    hints = typing.get_type_hints(cls, vars(model))
    convs = [(f.name, d) for f in dataclasses.fields(cls)  # type: ignore[arg-type]
             if (d := _field_decoder(hints[f.name])) is not None]

    def decode(obj: dict[str, Any]) -> T:
        for name, conv in convs:
            obj[name] = conv(obj[name])
        return cls(**obj)

    _DECODERS[cls] = decode
    return decode


_EAGER: dict[str, type] = {
    "tactics": model.Tactic, "techniques": model.Technique, "data_components": model.DataComponent,
    "strategies": model.DetectionStrategy, "groups": model.Group, "software": model.Software,
    "campaigns": model.Campaign, "mitigations": model.Mitigation,
}
_LAZY_ROWS: dict[str, type] = {"analytics": model.Analytic, "uses": model.Use, "mitigates": model.Mitigates}


def encode_data(data: AttackData) -> dict[str, bytes]:
    """One orjson blob for the eager core and one per lazy section."""
    core = {name: getattr(data, name) for name in _EAGER}
    core.update(info=data.info, attributions=data.attributions, revoked_by=dict(data.revoked_by))
    blobs = {"core": orjson.dumps(core)}
    for name in _LAZY_ROWS:
        blobs[name] = orjson.dumps(getattr(data, name))
    blobs["detections"] = orjson.dumps(dict(data.detections))
    return blobs


def _rows_loader(blob: bytes, cls: type) -> Callable[[], tuple[Any, ...]]:
    return lambda: tuple(map(_object_decoder(cls), orjson.loads(blob)))


def _detections_loader(blob: bytes) -> Callable[[], dict[str, tuple[model.DetectionRef, ...]]]:
    def load() -> dict[str, tuple[model.DetectionRef, ...]]:
        ref = _object_decoder(model.DetectionRef)
        return {k: tuple(map(ref, v)) for k, v in orjson.loads(blob).items()}

    return load


def decode_data(blobs: dict[str, bytes]) -> AttackData:
    core = orjson.loads(blobs["core"])
    fields: dict[str, Any] = {name: tuple(map(_object_decoder(cls), core[name])) for name, cls in _EAGER.items()}
    loaders: dict[str, Callable[[], Any]] = {name: _rows_loader(blobs[name], cls) for name, cls in _LAZY_ROWS.items()}
    loaders["detections"] = _detections_loader(blobs["detections"])
    return AttackData(
        info=_object_decoder(model.BundleInfo)(core["info"]),
        attributions=tuple((a, b) for a, b in core["attributions"]),
        revoked_by=core["revoked_by"],
        lazy=LazySections(loaders=loaders),
        **fields,
    )


# ----- files ----------------------------------------------------------------------------------------------------
def cache_path(bundle_sha256: str, directory: Path | None = None) -> Path:
    """The format is in the name, so two installs of different formats sharing a cache dir keep a file each."""
    return (directory or cache_dir()) / "attack" / f"{bundle_sha256[:32]}-v{__version__}-f{FORMAT}.json"


def write_cache(data: AttackData, directory: Path | None = None) -> Path:
    blobs = encode_data(data)
    sections, offset = {}, 0
    for name, blob in blobs.items():
        sections[name] = [offset, offset + len(blob)]
        offset += len(blob)
    payload = b"".join(blobs.values())
    header = orjson.dumps({
        "magic": MAGIC, "format": FORMAT, "detcov": __version__, "bundle_sha256": data.info.sha256,
        "payload_sha256": hashlib.sha256(payload).hexdigest(), "payload_bytes": len(payload), "sections": sections,
    })
    path = cache_path(data.info.sha256, directory)
    atomic_write(path, header + b"\n" + payload)
    return path


def read_cache(bundle_sha256: str, directory: Path | None = None) -> AttackData | None:
    """The cached data for this bundle, or None if absent, stale, truncated or corrupt."""
    path = cache_path(bundle_sha256, directory)
    try:
        raw = path.read_bytes()
        head, _, payload = raw.partition(b"\n")
        header = orjson.loads(head)
        if not (
            isinstance(header, dict) and header.get("magic") == MAGIC and header.get("format") == FORMAT
            and header.get("detcov") == __version__ and header.get("bundle_sha256") == bundle_sha256
            and header.get("payload_bytes") == len(payload)
            and header.get("payload_sha256") == hashlib.sha256(payload).hexdigest()
        ):
            return None
        view = memoryview(payload)
        blobs = {name: bytes(view[a:b]) for name, (a, b) in header["sections"].items()}
        return decode_data(blobs)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


# ----- remembered bundle hashes -----------------------------------------------------------------------------
def _hash_index_path(directory: Path | None) -> Path:
    return (directory or cache_dir()) / "attack" / "bundle-hashes.json"


def _stat_key(path: Path) -> tuple[str, list[int]]:
    st = path.stat()
    return str(path.resolve()), [st.st_size, st.st_mtime_ns]


def remembered_sha256(path: Path, directory: Path | None = None) -> str | None:
    try:
        index = orjson.loads(_hash_index_path(directory).read_bytes())
        key, stamp = _stat_key(path)
        entry = index.get(key)
        if isinstance(entry, dict) and entry.get("stat") == stamp and isinstance(entry.get("sha256"), str):
            return str(entry["sha256"])
    except (OSError, ValueError, AttributeError):
        return None
    return None


def remember_sha256(path: Path, sha256: str, directory: Path | None = None) -> None:
    index_path = _hash_index_path(directory)
    try:
        index = orjson.loads(index_path.read_bytes())
        if not isinstance(index, dict):
            index = {}
    except (OSError, ValueError):
        index = {}
    key, stamp = _stat_key(path)
    index[key] = {"stat": stamp, "sha256": sha256}
    with contextlib.suppress(OSError):  # a read-only cache dir only costs speed
        atomic_write(index_path, orjson.dumps(index))
