"""Shift this Python process's wall clock when the test run asks for it (FWJR_TEST_CLOCK_SHIFT).

tests/conftest.py puts this folder on PYTHONPATH for the processes the tests start (workers,
board servers, CLI commands), so they all read the same shifted clock as the test process; the
shift is fixed once per run, so processes started later agree with earlier ones. Only the wall
clock moves: monotonic clocks, the Kafka and HDFS JVMs, the Go binaries (Alertmanager,
Prometheus) and ClickHouse's now() keep real time.
"""

import os
import time

SHIFT = "FWJR_TEST_CLOCK_SHIFT"


def shift_clock(seconds: float):
    """Move time.time(), datetime.now() and friends by `seconds`, ticking on from there."""
    import time_machine

    traveller = time_machine.travel(time.time() + seconds, tick=True)
    traveller.start()
    return traveller


if __name__ == "sitecustomize" and os.environ.get(SHIFT):
    shift_clock(float(os.environ[SHIFT]))
