"""Every file detcov writes goes through here: atomic, durable, readable by colleagues, never over an input.

* :func:`atomic_path` / :func:`atomic_write`: write to a temporary file beside the target, ``fsync`` it, rename it
  into place, ``fsync`` the folder. A killed run or a full disk never leaves half a file, and the previous
  version stays intact until the new one is complete.
* Modes follow the user's umask (``0o666 & ~umask``, e.g. 0644), as ``open()`` would — not ``mkstemp``'s 0600 — so
  the web server hosting the Navigator layers or a colleague can read them; an existing file keeps its mode.
* :func:`protect_inputs`: while a command runs, the files it read (and the rule folders it walked) cannot be
  written over; a path that points at one is refused before anything is written.
* OS errors become one :class:`~detcov.errors.DetcovError` line naming the path and the fix (a folder that is a
  file, under a file, not writable, a full disk, a read-only file system).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from detcov.errors import DetcovError, Location

_PROTECTED: ContextVar[tuple[Path, ...]] = ContextVar("detcov_protected_inputs", default=())


def default_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.absolute()


@contextmanager
def protect_inputs(paths: Iterable[str | Path]) -> Iterator[None]:
    """Within the block, :func:`check_output` refuses these files and anything inside these folders."""
    token = _PROTECTED.set(_PROTECTED.get() + tuple(_resolved(Path(p)) for p in paths))
    try:
        yield
    finally:
        _PROTECTED.reset(token)


def check_output(path: Path) -> None:
    """:class:`DetcovError` when ``path`` is (or is inside) an input of the running command."""
    target = _resolved(path)
    for guarded in _PROTECTED.get():
        if target == guarded or (guarded.is_dir() and target.is_relative_to(guarded)):
            what = "an input file" if target == guarded else f"inside the input folder {guarded}"
            raise DetcovError(f"refusing to write here: it is {what} of this run", location=Location(str(path)),
                              hint="write outputs somewhere else (an input is never overwritten)")


def write_error(path: Path, exc: OSError, what: str = "write this file") -> DetcovError:
    """An OS error while writing ``path`` as one line with the fix."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return DetcovError(f"the disk is full: cannot {what} (the previous version is kept)",
                           location=Location(str(path)), hint="free some space (or choose another --out) and rerun")
    if code in (errno.ENOTDIR, errno.EEXIST) or (code is None and isinstance(exc, NotADirectoryError)):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path.parent)
        return DetcovError(f"cannot {what}: {blocker} is a file, not a folder", location=Location(str(path)),
                           hint="choose another output folder, or move that file away")
    if code in (errno.EACCES, errno.EPERM):
        return DetcovError(f"cannot {what}: permission denied", location=Location(str(path)),
                           hint="choose a folder you can write to, or fix its permissions")
    if code == errno.EROFS:
        return DetcovError(f"cannot {what}: the file system is read-only", location=Location(str(path)),
                           hint="choose an output folder on a writable disk")
    if code == errno.EISDIR:
        return DetcovError(f"cannot {what}: it is a folder", location=Location(str(path)),
                           hint="give a file name, not a folder")
    return DetcovError(f"cannot {what}: {exc.strerror or exc}", location=Location(str(path)),
                       hint="check the output path")


def make_folder(folder: Path) -> Path:
    """``mkdir -p`` with a clear error (a file in the way, no permission, a full disk)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc, "create this folder") from exc
    if not folder.is_dir():
        raise write_error(folder, OSError(errno.ENOTDIR, "not a folder"), "create this folder")
    return folder


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a file name (pandas, xlsxwriter, Chromium);
    on success it is made durable and renamed over ``path``; on any error it is removed and ``path`` is untouched."""
    target = Path(path)
    check_output(target)
    make_folder(target.parent)
    if target.is_dir():
        raise write_error(target, IsADirectoryError(errno.EISDIR, "is a folder"))
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}")
    except OSError as exc:
        raise write_error(target, exc) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _finish(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(target, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finish(tmp: Path, target: Path) -> None:
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = default_mode()
    with tmp.open("rb+") as fh:
        os.fchmod(fh.fileno(), mode)
        os.fsync(fh.fileno())
    tmp.replace(target)
    _fsync_folder(target.parent)


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Write a whole set of outputs into a staging folder inside ``out``; only when every file is complete are
    they moved over the previous ones (renames need no disk space). A full disk or an error on the way leaves
    ``out`` exactly as it was — a consistent previous set, not a mix of old and new files."""
    make_folder(out)
    check_output(out / ".detcov-staging")
    try:
        stage = Path(tempfile.mkdtemp(prefix=".detcov-staging-", dir=out))
    except OSError as exc:
        raise write_error(out, exc, "create a staging folder in this folder") from exc
    try:
        yield stage
        _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _publish(stage: Path, out: Path) -> None:
    for folder, _dirs, names in os.walk(stage):
        for name in sorted(names):
            source = Path(folder) / name
            target = out / source.relative_to(stage)
            check_output(target)
            make_folder(target.parent)
            try:
                if target.exists():
                    source.chmod(target.stat().st_mode & 0o7777)
                source.replace(target)
            except OSError as exc:
                raise write_error(target, exc) from exc
    for folder, _dirs, _names in os.walk(out):
        if not Path(folder).name.startswith(".detcov-staging-"):
            _fsync_folder(Path(folder))


def atomic_write(path: Path, content: bytes | Iterable[bytes]) -> None:
    """Write ``content`` to ``path`` atomically (see the module doc). ``content`` may be an iterable of parts,
    written as they come (a large file is never whole in memory)."""
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        if isinstance(content, bytes):
            fh.write(content)
        else:
            fh.writelines(content)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(Path(path), text.encode("utf-8"))
