"""The package's build backend (PEP 517), standard library only.

`pip install --no-build-isolation --no-index ./clients/python` must work with nothing
but the Python that runs pip: setuptools before 70.1 (Debian 12 has 66) cannot build a
wheel without the `wheel` package, which a fresh venv does not have and no index is
there to fetch. The package is pure Python, so its wheel is a zip of `drover/` and
the metadata files PEP 427 asks for."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "drover"
SUMMARY = "Python client of Drover, the workflow manager, with Jobmon's API"
REQUIRES_PYTHON = ">=3.9"
# A fixed time for every entry: the same sources build the same wheel.
EPOCH = (2020, 1, 1, 0, 0, 0)


def _version() -> str:
    with open(os.path.join(ROOT, NAME, "__init__.py"), encoding="utf-8") as f:
        found = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M)
    if not found:
        raise RuntimeError("drover/__init__.py has no __version__")
    return found.group(1)


def _metadata(version: str) -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        f"Summary: {SUMMARY}\n"
        "License: MIT\n"
        f"Requires-Python: {REQUIRES_PYTHON}\n"
        "Description-Content-Type: text/markdown\n"
        f"\n{readme}"
    )


WHEEL = "Wheel-Version: 1.0\nGenerator: drover_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _sources() -> List[Tuple[str, str]]:
    """(path in the wheel, path on disk) of every module, sorted."""
    out = []
    for folder, dirs, files in os.walk(os.path.join(ROOT, NAME)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py") or name == "py.typed":
                disk = os.path.join(folder, name)
                out.append((os.path.relpath(disk, ROOT).replace(os.sep, "/"), disk))
    return out


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}\n"


def _write(zf: zipfile.ZipFile, path: str, data: bytes) -> None:
    info = zipfile.ZipInfo(path, EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _dist_info(version: str) -> Dict[str, bytes]:
    return {
        "METADATA": _metadata(version).encode("utf-8"),
        "WHEEL": WHEEL.encode("ascii"),
        "top_level.txt": f"{NAME}\n".encode("ascii"),
    }


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    version = _version()
    filename = f"{NAME}-{version}-py3-none-any.whl"
    info_dir = f"{NAME}-{version}.dist-info"
    record = ""
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, disk in _sources():
            with open(disk, "rb") as f:
                data = f.read()
            _write(zf, path, data)
            record += _record_line(path, data)
        for name, data in _dist_info(version).items():
            path = f"{info_dir}/{name}"
            _write(zf, path, data)
            record += _record_line(path, data)
        record += f"{info_dir}/RECORD,,\n"
        _write(zf, f"{info_dir}/RECORD", record.encode("utf-8"))
    return filename


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None
) -> str:
    version = _version()
    info_dir = f"{NAME}-{version}.dist-info"
    os.makedirs(os.path.join(metadata_directory, info_dir), exist_ok=True)
    for name, data in _dist_info(version).items():
        with open(os.path.join(metadata_directory, info_dir, name), "wb") as f:
            f.write(data)
    return info_dir
