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


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_listening_on_every_interface_needs_the_address_browsers_reach(host: str) -> None:
    with pytest.raises(ValidationError, match="BFF_PUBLIC_URL"):
        Settings(BFF_HOST=host)

    public = Settings(BFF_HOST=host, BFF_PUBLIC_URL="https://pay.example.com/")
    assert public.checkout_base_url == "https://pay.example.com"
    assert Settings(BFF_PORT=8123).checkout_base_url == "http://127.0.0.1:8123"
