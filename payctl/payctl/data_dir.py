"""The data dir of one stack: PostgreSQL's files, the broker's storage, the logs, the SSO
signing key, and the
lock that keeps a second stack out while the first one runs."""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from payctl.errors import StackError

if TYPE_CHECKING:
    from pathlib import Path

LOCK_FILE = "payctl.lock"


@dataclass(frozen=True)
class DataDir:
    path: Path

    @property
    def postgres(self) -> Path:
        return self.path / "postgres"

    @property
    def kafka(self) -> Path:
        return self.path / "kafka"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def bff_metrics(self) -> Path:
        """Where the BFF's workers write their metrics (PROMETHEUS_MULTIPROC_DIR)."""
        return self.path / "bff-metrics"

    @property
    def sso_signing_key(self) -> Path:
        """The Ed25519 key every order-consumer of this stack signs SSO tokens with."""
        return self.path / "secrets" / "sso-signing-key.pem"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def claim(self, fresh: bool) -> IO[str]:
        """Locks the dir for one stack, wiped first when `fresh`; closing the file unlocks it.

        Two stacks on one data dir would share one PostgreSQL and one broker's storage, so a
        second one is refused. The wipe comes after the lock, so it never pulls
        the files from under a running stack.
        """
        if fresh and not self._made_by_payctl():
            raise StackError(
                f"refusing to wipe {self.path}: it holds files but no {LOCK_FILE}, "
                "so payctl did not make it"
            )
        lock = self._lock()
        if fresh:
            self._wipe()
        return lock

    def _made_by_payctl(self) -> bool:
        p = self.path
        return not p.exists() or (p / LOCK_FILE).exists() or not any(p.iterdir())

    def _lock(self) -> IO[str]:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = (self.path / LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise StackError(f"{self.path} is in use by another payctl (pid {holder})") from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        return lock

    def _wipe(self) -> None:
        for entry in self.path.iterdir():
            if entry.name == LOCK_FILE:
                continue  # held by the caller
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
