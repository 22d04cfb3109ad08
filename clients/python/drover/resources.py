"""Jobmon's compute resources, resource scales and cluster names in Drover's spec terms
(SPEC.md §1: memory `2G` or GiB, runtime `10m` or seconds). What Drover has no
equivalent for is refused with NotSupportedError naming it, never dropped."""

from __future__ import annotations

import copy
import itertools
import math
import numbers
import re
from typing import Any, Dict, List, Mapping, Optional, Union

from .errors import NotSupportedError, SpecError

#: Jobmon's cluster names → Drover's. Other names pass as they are (a cluster
#: registered on the Drover stack).
CLUSTERS = {
    "slurm": "slurm",
    "sequential": "sequential",
    "multiprocess": "local",
    "local": "local",
    "dummy": "dummy",
}

#: Jobmon resource keys, including the names of its earlier releases, → Drover's.
_KEYS = {
    "cores": "cores",
    "num_cores": "cores",
    "memory": "memory",
    "m_mem_free": "memory",
    "runtime": "runtime",
    "max_runtime_seconds": "runtime",
    "queue": "queue",
    "project": "project",
}

_NO_EQUIVALENT = {
    "stdout": "Drover keeps each task's standard output itself: read it with `drover logs TASK`",
    "stderr": "Drover keeps each task's standard error itself: read it with "
    "`drover logs TASK --stderr`",
    "constraints": "Drover's slurm-bridge does not pass Slurm node constraints",
}

# Drover's own forms (submission/units.ts): passed on as written.
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
_DROVER_MEMORY = re.compile(rf"^{_NUMBER}\s*[kmgt](?:i?b)?$", re.I)
_DROVER_RUNTIME = re.compile(rf"^{_NUMBER}\s*[smhd]$", re.I)
_CLOCK = re.compile(r"^(?:\d+-)?\d+:\d{1,2}:\d{1,2}$")
_BARE = re.compile(rf"^{_NUMBER}$", re.I)
# Jobmon's longer forms: "100b" (bytes), "2hr", "30min", "45 seconds".
_BYTES = re.compile(r"^(\d+)\s*b$", re.I)
_WORDY_RUNTIME = re.compile(rf"^({_NUMBER})\s*([a-z]+)$", re.I)
_RUNTIME_WORDS = {
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], 1),
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes"], 60),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], 3600),
    **dict.fromkeys(["d", "day", "days"], 86400),
}

NO_YAML = (
    "resources from a YAML file are not supported by the Python client (it reads no YAML: "
    "standard library only); pass them as a dict, or put them in a spec file "
    "(`template_resources`, `include`) for `drover submit`"
)

#: Drover allows at most this many attempts; a scale list longer than it is never used.
MAX_ATTEMPTS = 1000

Amount = Union[str, int, float]


def cluster(name: Optional[str]) -> Optional[str]:
    """Drover's cluster for a Jobmon cluster name; None for "" or None."""
    if not name:
        return None
    return CLUSTERS.get(name, name)


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _plain(value: Any) -> Union[int, float]:
    """A number as JSON can write it (numpy's numbers are not int or float)."""
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def memory(value: Any, label: str) -> Amount:
    """A number is GiB, as in Jobmon; strings in Jobmon's forms ("1Gb", "500M", "2gib",
    "100") are Drover's forms too, except bytes ("100b"), converted here."""
    if _number(value):
        return _plain(value)
    if isinstance(value, str):
        text = value.strip()
        if _BARE.match(text):
            return float(text) if "." in text or "e" in text.lower() else int(text)
        if _DROVER_MEMORY.match(text):
            return text
        m = _BYTES.match(text)
        if m:
            return f"{math.ceil(int(m.group(1)) / 1024)}K"
    raise SpecError(
        f'{label}: memory {value!r} is not an amount (use e.g. "512M", "2G" or a number of GiB)'
    )


def runtime(value: Any, label: str) -> Amount:
    """A number is seconds, as in Jobmon; "HH:MM:SS", "90s", "10m", "2h", "1d" are
    passed on; Jobmon's longer units ("2hr", "30min") are converted to seconds."""
    if _number(value):
        return _plain(value)
    if isinstance(value, str):
        text = value.strip()
        if _BARE.match(text) or _DROVER_RUNTIME.match(text) or _CLOCK.match(text):
            return text
        m = _WORDY_RUNTIME.match(text)
        if m and m.group(2).lower() in _RUNTIME_WORDS:
            return math.ceil(float(m.group(1)) * _RUNTIME_WORDS[m.group(2).lower()])
    raise SpecError(
        f"{label}: runtime {value!r} is not a duration "
        '(use e.g. "90s", "10m", "2h", "HH:MM:SS" or a number of seconds)'
    )


def compute_resources(values: Any, label: str) -> Dict[str, Any]:
    """Jobmon's compute_resources dict as Drover's resources."""
    if callable(values) and not isinstance(values, Mapping):
        raise NotSupportedError(
            f"{label}: a function as compute_resources is not supported: Drover sizes a "
            "task when it is submitted, not when it starts; give a dict"
        )
    if not isinstance(values, Mapping):
        raise SpecError(f"{label}: expected a dict of resources, not {type(values).__name__}")
    out: Dict[str, Any] = {}
    for key, value in values.items():
        where = f"{label}[{key!r}]"
        if key in _NO_EQUIVALENT:
            raise NotSupportedError(f"{where} is not supported: {_NO_EQUIVALENT[key]}")
        target = _KEYS.get(key)
        if target is None:
            raise NotSupportedError(
                f"{where} is not supported: Drover's resources are cores, memory, runtime, "
                "queue and project"
            )
        if target in out:
            raise SpecError(f"{where}: {target} is given twice")
        if value is None:
            continue
        if target == "memory":
            out[target] = memory(value, where)
        elif target == "runtime":
            out[target] = runtime(value, where)
        elif target == "cores":
            out[target] = _cores(value, where)
        else:
            out[target] = str(value)
    return out


def _cores(value: Any, label: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0:
        return int(value)
    raise SpecError(f"{label}: cores {value!r} must be a whole number more than zero")


def resource_scales(values: Any, label: str) -> Dict[str, Any]:
    """Jobmon's resource_scales as Drover's: a factor, or an iterator or list of the
    amounts for each retry in turn (memory in GiB, runtime in seconds, as in Jobmon)."""
    if not isinstance(values, Mapping):
        raise SpecError(f"{label}: expected a dict of scales, not {type(values).__name__}")
    out: Dict[str, Any] = {}
    for key, scale in values.items():
        where = f"{label}[{key!r}]"
        if key not in ("memory", "runtime"):
            raise NotSupportedError(
                f"{where} is not supported: Drover scales only memory and runtime after a "
                "resource error"
            )
        out[key] = _scale(scale, key, where)
    return out


def _scale(scale: Any, resource: str, label: str) -> Any:
    if _number(scale):
        if not (scale > 0 and math.isfinite(scale)):
            raise SpecError(f"{label}: factor {scale!r} must be more than zero")
        return _plain(scale)
    if isinstance(scale, (list, tuple)):
        amounts: List[Any] = list(scale)
    elif hasattr(scale, "__next__"):
        # An iterator is consumed by each retry in Jobmon: its values, in turn, are the
        # list. Copied first, as Jobmon does, so the caller's iterator is left whole.
        try:
            amounts = list(itertools.islice(copy.deepcopy(scale), MAX_ATTEMPTS))
        except TypeError as err:
            raise NotSupportedError(
                f"{label}: this iterator cannot be copied ({err}); give a list of amounts"
            ) from err
    elif callable(scale):
        raise NotSupportedError(
            f"{label}: a function as a resource scale is not supported: the retry runs on "
            "Drover's stack, not in this process; give a factor or a list of amounts"
        )
    else:
        raise SpecError(f"{label}: expected a factor or amounts, not {scale!r}")
    if not amounts:
        raise SpecError(f"{label}: the list of amounts is empty")
    convert = memory if resource == "memory" else runtime
    return [convert(a, label) for a in amounts]


def attributes(values: Any, label: str) -> Dict[str, str]:
    """A dict of attributes, or a list of names to be given values later (as Jobmon
    allows: here each is the empty string)."""
    if isinstance(values, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in values.items()}
    if isinstance(values, (list, tuple)):
        return {str(k): "" for k in values}
    raise SpecError(f"{label}: expected a dict or a list of names, not {type(values).__name__}")


def positive_int(value: Any, label: str, minimum: int = 1) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    raise SpecError(f"{label}: {value!r} must be a whole number of at least {minimum}")
