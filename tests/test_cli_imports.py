"""`recsys --help` and every subcommand's --help load no ML library: the stage modules import torch, transformers,
peft, pyarrow and DuckDB only inside their command functions, so the CLI answers at once.

Each check runs in a fresh interpreter, since this test process has long imported them all.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import REPO
from stages.cli import app

HEAVY = ("torch", "transformers", "peft", "pyarrow", "duckdb")
SCRIPT = """
import json, sys
from stages.cli import app
code = None
try:
    app(args=sys.argv[1:], prog_name="recsys")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"exit": code, "loaded": [name for name in %r if name in sys.modules]}))
""" % (HEAVY,)


@pytest.mark.parametrize("command", [None] + [c.name for c in app.registered_commands], ids=lambda c: c or "recsys")
def test_help_loads_no_ml_library(command):
    args = [command, "--help"] if command else ["--help"]
    process = subprocess.run([sys.executable, "-c", SCRIPT, *args], cwd=REPO, capture_output=True, text=True, check=True)
    help_text, result = process.stdout.rstrip().rsplit("\n", 1)
    assert "Usage:" in help_text
    assert json.loads(result) == {"exit": 0, "loaded": []}
