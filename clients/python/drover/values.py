"""Arg values, names and command placeholders, with the rules of Drover's spec format
(SPEC.md §1), so that the spec this client writes expands exactly as a YAML file's.

Every rule here mirrors one of submission/names.ts or submission/command.ts; the CLI checks them
again, these checks only report a mistake where it was made."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, List, Mapping, Optional

from .errors import SpecError

MAX_NAME_LENGTH = 255

# ECMAScript's \s (not Python's, which also takes \x85), / \ ' " and control characters.
_FORBIDDEN_CHARS = (
    "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff/\\\\'\""
    "\x00-\x1f\x7f"
)
_FORBIDDEN = re.compile("[" + _FORBIDDEN_CHARS + "]")
_ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TOKEN = re.compile(r"\{\{|\}\}|\$\{[^}]*\}|\{([A-Za-z_][A-Za-z0-9_]*)(:q)?\}")

#: Values that are one value, not a list of them, though Python can iterate them.
SCALARS = (str, bytes, int, float, bool)


def arg_string(value: Any, label: str) -> str:
    """An arg value as the string it is substituted and compared as: Python's str(), as
    Jobmon renders it (so True is "True" and 1.0 is "1.0"; strings and ints are the
    same text a YAML file or the TypeScript client gives)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        raise SpecError(f"{label}: {value!r} is a {type(value).__name__}, not one value")
    return str(value)


def string_map(values: Mapping[Any, Any], label: str) -> Dict[str, str]:
    return {str(k): arg_string(v, f"{label} {k!r}") for k, v in values.items()}


def utf16_length(text: str) -> int:
    """The length ECMAScript gives a string: names are limited in UTF-16 units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def check_name(kind: str, name: Any) -> None:
    """Raises SpecError unless `name` is a valid tool, template or task name."""
    if not isinstance(name, str) or name == "":
        raise SpecError(f"{kind} name is empty")
    shown = repr(name if len(name) <= 60 else name[:60] + "…")
    if utf16_length(name) > MAX_NAME_LENGTH:
        raise SpecError(f"{kind} name {shown} is longer than {MAX_NAME_LENGTH} characters")
    bad = _FORBIDDEN.search(name)
    if bad:
        ch = bad.group()
        if ch in "/\\'\"":
            what = repr(ch)
        elif ch < " " or ch == "\x7f":
            what = "a control character"
        else:
            what = "whitespace"
        raise SpecError(f"{kind} name {shown} contains {what} (not allowed: / \\ ' \" and spaces)")
    if "0" <= name[0] <= "9":
        raise SpecError(f"{kind} name {shown} starts with a digit")


def check_arg_name(name: str, label: str) -> None:
    if not isinstance(name, str) or not _ARG_NAME.match(name):
        raise SpecError(
            f"{label}: arg name {name!r} is not valid "
            "(letters, digits and _, not starting with a digit)"
        )


def default_task_name(template: str, node_args: List[str], args: Mapping[str, str]) -> str:
    """`{template}_{arg}-{value}_…` over the node args, forbidden characters replaced by
    `_`; a name over 255 characters is cut and ends with a hash of the whole name."""
    name = template
    for a in node_args:
        name += f"_{a}-{args.get(a, '')}"
    if _FORBIDDEN.search(name):
        name = _FORBIDDEN.sub("_", name)
    if utf16_length(name) > MAX_NAME_LENGTH:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        # Cut where the TypeScript client does: at a UTF-16 unit, never inside a pair.
        units = name.encode("utf-16-le", "surrogatepass")[: 2 * (MAX_NAME_LENGTH - 17)]
        if 0xD800 <= int.from_bytes(units[-2:], "little") <= 0xDBFF:
            units = units[:-2]
        name = units.decode("utf-16-le", "surrogatepass") + "_" + digest
    return name


def placeholders(command: str) -> List[str]:
    """The distinct `{name}` placeholders of a command, in order of first appearance."""
    seen: Dict[str, None] = {}
    for m in _TOKEN.finditer(command):
        if m.group(1) is not None:
            seen[m.group(1)] = None
    return list(seen)


def shell_quote(value: str) -> str:
    """One word of POSIX sh, whatever the value holds: submission/command.ts's shellQuote
    (always quoted, unlike shlex.quote, so both give the same text)."""
    return "'" + value.replace("'", "'\\''") + "'"


def render_command(command: str, args: Mapping[str, str]) -> str:
    """The command with each placeholder replaced: `{name}` as written, `{name:q}`
    shell-quoted; `{{` and `}}` are literal braces and `${…}` is left for the shell."""

    def replace(m: "re.Match[str]") -> str:
        token = m.group()
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name: Optional[str] = m.group(1)
        if name is None or name not in args:
            return token
        return shell_quote(args[name]) if m.group(2) else args[name]

    return _TOKEN.sub(replace, command)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")


def where(working_dir: Any, env: Any, label: str) -> Dict[str, Any]:
    """The spec's `working_dir` (absolute: relative to this process's folder) and `env`
    (SPEC.md §4) when given; the CLI checks them again."""
    import os

    out: Dict[str, Any] = {}
    if working_dir is not None:
        if not isinstance(working_dir, (str, os.PathLike)) or str(working_dir) == "":
            raise SpecError(f"{label}: working_dir must be a non-empty path")
        out["working_dir"] = os.path.abspath(os.fspath(working_dir))
    if env is not None:
        if not isinstance(env, Mapping):
            raise SpecError(f"{label}: env must be a dict of variable names to values")
        values: Dict[str, str] = {}
        for k, v in env.items():
            if not isinstance(k, str) or not _ENV_NAME.match(k):
                raise SpecError(
                    f"{label}: env variable name {k!r} is not allowed "
                    "(letters, digits and _, not starting with a digit)"
                )
            values[k] = arg_string(v, f"{label}: env {k}")
        out["env"] = values
    return out
