"""User-owned YAML files (scan config, inventory, profiles, technique scores): load, validate, write back.

* Loaded with ruamel.yaml round-trip, so line/column are known for every key and comments survive a rewrite.
* Validated by a pydantic model that forbids unknown keys (:class:`UserModel`); every validation error becomes an
  :class:`~detcov.errors.Issue` located at ``file:line:col`` with a hint (unknown key → closest allowed key).
* ``version:`` and ``file_type:`` headers are checked first, so a wrong file gets one clear message.
* Written back atomically, with comments and key order kept.

Typical use::

    data = load_yaml(path)                           # CommentedMap, or DetcovError at the syntax error's line
    inv = validate_model(Inventory, data, path)      # the model, or DetcovError with all issues together
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from detcov.errors import DetcovError, Issue, Location
from detcov.fileio import atomic_write

M = TypeVar("M", bound=BaseModel)


class UserModel(BaseModel):
    """Base for models of user files: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.preserve_quotes = True
    y.allow_duplicate_keys = False
    y.width = 4096
    return y


def load_yaml(path: str | Path, text: str | None = None) -> Any:
    """Parse one YAML document with positions; syntax errors and duplicate keys raise at their line."""
    p = Path(path)
    if text is None:
        try:
            text = p.read_text(encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise DetcovError("file not found", location=Location(str(p)), hint="check the path") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise DetcovError(f"cannot read the file ({exc})", location=Location(str(p)),
                              hint="it must be a UTF-8 text YAML file") from exc
    try:
        return _yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise DetcovError(f"invalid YAML: {problem}", location=Location(str(p), line, col),
                          hint="fix the YAML syntax at that line (indentation, quotes, duplicate keys)") from exc
    except Exception as exc:  # ruamel raises a few non-marked errors on odd input
        raise DetcovError(f"invalid YAML: {exc}", location=Location(str(p)), hint="fix the YAML syntax") from exc


def dump_yaml(data: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()


def save_yaml(path: str | Path, data: Any) -> None:
    """Write a (round-trip) document back, comments and order kept, atomically (never half a file)."""
    atomic_write(Path(path), dump_yaml(data).encode("utf-8"))


def position(node: Any, loc: Sequence[str | int]) -> tuple[int | None, int | None]:
    """1-based line/column of the deepest part of ``loc`` that exists in a round-trip document."""
    line: int | None = None
    col: int | None = None
    if isinstance(node, CommentedBase) and getattr(node, "lc", None) is not None and node.lc.line is not None:
        line, col = node.lc.line + 1, node.lc.col + 1
    for key in loc:
        try:
            if isinstance(node, CommentedMap) and key in node:
                ln, cl = node.lc.key(key)
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                ln, cl = node.lc.item(key)
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        line, col = ln + 1, cl + 1
        node = node[key]
    return line, col


def _dotted(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _hint(error: Mapping[str, Any], model: type[BaseModel], loc: Sequence[str | int]) -> str | None:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if allowed else []
        if close:
            return f"did you mean '{close[0]}'?"
        return f"remove it (allowed here: {', '.join(allowed)})" if allowed else "remove it"
    if kind == "missing":
        return "add this key"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        return "use a value inside the allowed range"
    if kind.endswith(("_type", "_parsing")):
        return "use a value of the expected type"
    if kind in ("literal_error", "enum"):
        return "use one of the listed values"
    return None


def _allowed_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the nested model at ``loc`` (best effort, for 'did you mean' hints)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def issues_from_validation(exc: ValidationError, model: type[BaseModel], data: Any, path: str | Path) -> list[Issue]:
    issues = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if isinstance(p, (str, int)) and p != "[key]"]
        line, col = position(data, loc)
        where = _dotted(loc)
        message = str(error["msg"])
        if error.get("type") == "extra_forbidden":
            message = "unknown key"
        text = f"{where}: {message}" if where else message
        issues.append(Issue(text, Location(str(path), line, col), _hint(error, model, loc)))
    return issues


def check_header(data: Any, path: str | Path, file_type: str, versions: Sequence[int | float | str]) -> list[Issue]:
    """``file_type`` must match and ``version`` must be one detcov reads."""
    if not isinstance(data, Mapping):
        return [Issue("the file must be a YAML mapping (key: value) at the top level", Location(str(path), 1, 1),
                      f"start it with 'version: {versions[-1]}' and 'file_type: {file_type}'")]
    issues = []
    if data.get("file_type") != file_type:
        line, col = position(data, ["file_type"])
        found = data.get("file_type")
        issues.append(Issue(
            f"file_type is {found!r}, expected {file_type!r}" if found is not None else "file_type is missing",
            Location(str(path), line, col), f"set 'file_type: {file_type}' (or pass the right kind of file)"))
    if "version" in data and str(data["version"]) not in {str(v) for v in versions}:
        line, col = position(data, ["version"])
        issues.append(Issue(f"version {data['version']!r} is not supported for {file_type}",
                            Location(str(path), line, col),
                            f"use version: {versions[-1]} (supported: {', '.join(map(str, versions))})"))
    return issues


def validate_model(model: type[M], data: Any, path: str | Path, *, context: dict[str, Any] | None = None) -> M:
    """The validated model, or :class:`DetcovError` carrying every issue (with file:line:col)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise DetcovError(issues=issues_from_validation(exc, model, data, path)) from exc


def load_user_file(path: str | Path, model: type[M], file_type: str, versions: Sequence[int | float | str],
                   *, context: dict[str, Any] | None = None) -> tuple[M, Any]:
    """Load + header check + validation. Returns the model and the round-trip document (for write-back)."""
    data = load_yaml(path)
    header = check_header(data, path, file_type, versions)
    if header:
        raise DetcovError(issues=header)
    return validate_model(model, data, path, context=context), data
