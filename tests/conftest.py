"""Shared by every test.

- The key sealing the register's blocks (`history/register_key`) is kept in the test run's own
  folder, never in the home of whoever runs the suite (subprocesses inherit it).
- `frozen_clock`: one generation time for every consolidated workbook of a test (titles, document
  properties), so that two workbooks compare byte for byte.
- `example_folder`: the shipped examples, written once, copied into a folder of the test.
"""

import functools
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pytest

from acv_xl.history.register_key import KEY_ENV

os.environ[KEY_ENV] = os.path.join(tempfile.mkdtemp(prefix="acv-xl-cle-"), "cle-registre")


@pytest.fixture
def frozen_clock(monkeypatch):
    import xlsxwriter.core

    from acv_xl.outputs import consolidation as C

    now = datetime(2026, 3, 4, 5, 6, 7)

    class _Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return now.replace(tzinfo=tz)

    monkeypatch.setattr(xlsxwriter.core, "datetime", _Frozen)
    monkeypatch.setattr(C, "ConsolidationResult", functools.partial(C.ConsolidationResult, genere_le=now))
    return now


@pytest.fixture(scope="session")
def shipped_examples(tmp_path_factory) -> list[Path]:
    from acv_xl.outputs.examples import write_examples

    return sorted(write_examples(tmp_path_factory.mktemp("exemples")))


@pytest.fixture
def example_folder(tmp_path, shipped_examples) -> Path:
    """The shipped examples in `tmp_path / "62"`."""
    folder = tmp_path / "62"
    folder.mkdir()
    for p in shipped_examples:
        shutil.copy2(p, folder / p.name)
    return folder
