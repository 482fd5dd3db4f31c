"""Shift this Python process's wall clock when the test run asks for it (FWJR_TEST_CLOCK_SHIFT).

tests/conftest.py puts this folder on PYTHONPATH for the processes the tests start (workers,
board servers, CLI commands), so they all read the same shifted clock as the test process; the
shift is fixed once per run, so processes started later agree with earlier ones. Only the wall
clock moves: monotonic clocks, the Kafka and HDFS JVMs and ClickHouse's now() keep real time.
"""

import os

_SHIFT = os.environ.get("FWJR_TEST_CLOCK_SHIFT")
if _SHIFT:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_SHIFT), tick=True).start()
