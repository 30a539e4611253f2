"""``.env`` files, read with Compose's rules.

Parsing is python-dotenv's (comments, single/double quotes, ``export``, multi-line values); on top of
it we report malformed lines with their line number, because dotenv only logs them and moves on, and
we interpolate unquoted and double-quoted values like Compose does (single quotes are literal).
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import cast

from dotenv.parser import Original, parse_stream

from audiovoice_ops.core.errors import ConfigError, EnvFileError
from audiovoice_ops.core.interpolation import InterpolationError, interpolate_string
from audiovoice_ops.core.limits import MAX_ENV_FILE_BYTES, read_limited


def read_env_file(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Parse ``path`` into a dict. ``environ`` supplies values for bare ``KEY`` lines and for
    ``${VAR}`` references to variables the file itself does not define."""
    environ = environ or {}
    try:
        data = read_limited(path, MAX_ENV_FILE_BYTES, "env file", EnvFileError)
    except FileNotFoundError:
        raise EnvFileError(f"env file not found: {path}", hint="cp .env.example .env") from None
    except OSError as exc:
        raise EnvFileError(f"cannot read env file {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvFileError(
            f"{path}: not UTF-8 text (invalid byte at offset {exc.start})",
            hint="save the env file as UTF-8",
        ) from None
    return parse_env_text(text, source=str(path), environ=environ)


def parse_env_text(text: str, source: str, environ: Mapping[str, str]) -> dict[str, str]:
    import io

    values: dict[str, str] = {}
    # Earlier lines of the file win over the shell for ${VAR} inside the file. A view, not a copy:
    # copying the environment for every line made a 10 MB file take minutes (quadratic).
    # ChainMap writes only to its first map (`values`, never written through it here): `environ`
    # is only read, though typeshed asks every map to be mutable.
    lookup = ChainMap(values, cast(MutableMapping[str, str], environ))
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raw = binding.original.string
            # dotenv counts a binding from the blank lines before it; name the offending line itself.
            line = binding.original.line + (len(raw) - len(raw.lstrip("\n")))
            snippet = raw.strip().splitlines()[0][:60]
            raise EnvFileError(
                f"{source}:{line}: malformed line {snippet!r}",
                hint="expected KEY=VALUE (comments start with #)",
            )
        if binding.key is None:
            continue  # blank line or comment
        if binding.value is None:  # bare KEY: taken from the shell, like Compose
            if binding.key in environ:
                values[binding.key] = environ[binding.key]
            continue
        values[binding.key] = _expand(binding.original, binding.value, lookup, source)
    return values


def _expand(original: Original, value: str, lookup: Mapping[str, str], source: str) -> str:
    """``value`` parsed from the line ``original``, interpolated unless it is single-quoted."""
    raw_value = original.string.split("=", 1)[1].lstrip()
    if raw_value.startswith("'"):
        return value  # single-quoted: literal
    try:
        return interpolate_string(value, lookup)
    except InterpolationError as exc:
        raise EnvFileError(f"{source}:{original.line}: {exc}") from None


def parse_bool(name: str, value: object) -> bool:
    """Parse a boolean flag such as LOW_VRAM with the rule the worker uses (``engines.flags``);
    a bad spelling is a ``ConfigError`` naming the variable and the accepted spellings."""
    from engines.flags import ACCEPTED_BOOLS
    from engines.flags import parse_bool as parse_flag

    try:
        return parse_flag(value)
    except ValueError:
        raise ConfigError(
            f"{name}={value!r} is not a boolean; accepted values: {ACCEPTED_BOOLS}"
        ) from None
