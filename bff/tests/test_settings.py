"""What `python -m bff` refuses to start with, beyond the secret (test_auth.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from bff.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path


def test_several_workers_need_a_directory_to_share_their_metrics(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PROMETHEUS_MULTIPROC_DIR"):
        Settings(BFF_WORKERS=2)

    shared = Settings(BFF_WORKERS=2, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    assert (shared.workers, shared.metrics_dir) == (2, tmp_path)
    assert Settings().workers == 1
