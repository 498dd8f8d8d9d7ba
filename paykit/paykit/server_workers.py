"""Worker processes of a multi-process HTTP server (uvicorn's `workers`): each one ends with the
supervisor that started it, however the supervisor ends."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def end_with_supervisor() -> None:
    """In a worker process, asks Linux to SIGTERM it when its supervisor dies; elsewhere (the
    process was not started by `multiprocessing`, or the system is not Linux) does nothing.

    A supervisor stopped by a signal it can handle stops its workers itself. One that is
    SIGKILLed, or killed by the OOM killer, cannot: its workers would keep serving on the
    inherited listening socket, and a restarted server would find its port taken.
    """
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    # The signal comes when the thread that started this process ends: uvicorn starts its
    # workers from its main thread, which lives as long as the supervisor does.
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    # The supervisor may have died before the request above was made: nobody would signal.
    if os.getppid() != parent.pid:
        os.kill(os.getpid(), signal.SIGTERM)
