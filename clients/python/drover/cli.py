"""The `drover` command, run once per submission or query (never once per task), with
its JSON interface (SPEC.md §2: one JSON document on stdout; exit 0, 1 when a
waited-for workflow did not end DONE, 2 with `{"error", "reason"?, "workflow_id"?}`).

The command is DROVER_CLI (a path or a command line, e.g. `node /opt/drover/bin/drover.mjs`),
else `drover` on the PATH."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from .errors import CliError, CliNotFoundError


def cli_command() -> List[str]:
    configured = os.environ.get("DROVER_CLI", "").strip()
    if configured:
        return shlex.split(configured)
    found = shutil.which("drover")
    if found:
        return [found]
    raise CliNotFoundError(
        "the drover command was not found: put `drover` on the PATH (from a Drover checkout: "
        "npm ci && npm link) or set DROVER_CLI to it, "
        "e.g. DROVER_CLI='node /opt/drover/bin/drover.mjs'"
    )


def run_cli(
    args: List[str], stdin: Optional[bytes] = None, progress: bool = False
) -> Tuple[int, Dict[str, Any]]:
    """Runs `drover ARGS --json`; returns its exit code (0 or 1) and JSON document.
    Raises CliError with the CLI's message when it refuses (exit 2) or fails. With
    `progress`, the command's progress lines go to this process's stderr."""
    command = cli_command() + args + ["--json"]
    try:
        proc = subprocess.run(
            command,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=None if progress else subprocess.PIPE,
            check=False,
        )
    except OSError as err:
        raise CliNotFoundError(f"cannot run {command[0]!r} (DROVER_CLI or PATH): {err}") from err
    what = f"drover {args[0]}"
    text = proc.stdout.decode("utf-8", "replace").strip()
    try:
        doc = json.loads(text.splitlines()[-1]) if text else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        stderr = (proc.stderr or b"").decode("utf-8", "replace").strip()
        tail = "\n".join((stderr or text).splitlines()[-20:])
        raise CliError(
            f"{what} exited {proc.returncode} without a JSON answer:\n{tail}", proc.returncode
        )
    if "error" in doc or proc.returncode not in (0, 1):
        workflow_id = doc.get("workflow_id")
        raise CliError(
            f"{what}: {doc.get('error', 'failed')}",
            proc.returncode,
            doc.get("reason"),
            workflow_id if isinstance(workflow_id, int) else None,
        )
    return proc.returncode, doc


def spec_bytes(spec: Dict[str, Any]) -> bytes:
    """Compact JSON, ASCII (escapes keep any string intact, even a lone surrogate)."""
    return json.dumps(spec, separators=(",", ":")).encode("ascii")
