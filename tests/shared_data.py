"""Where the outside test files are: ``../shared/testdata`` beside the checkout (as in CI), or
``$WARRANTDESK_TESTDATA``. Tests that need them skip without them on a developer machine, but
under CI (CI=true) their absence is an error: real-data tests must not silently not run."""

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]


def testdata_dir() -> Path:
    configured = os.environ.get("WARRANTDESK_TESTDATA")
    return Path(configured) if configured else _REPO.parent / "shared" / "testdata"


TESTDATA = testdata_dir()


def needs(subdir: str):
    path = TESTDATA / subdir
    if not path.is_dir() and os.environ.get("CI"):
        raise RuntimeError(f"CI: the shared test data {path} is missing")
    return pytest.mark.skipif(not path.is_dir(), reason=f"shared test data not found at {path}")
