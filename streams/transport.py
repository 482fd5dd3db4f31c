"""Faust's aiokafka transport with a consumer that hands a whole fetch to the streams at once.

Faust's `Consumer._drain_messages` races every single message's delivery against the
consumer's suspend, stop and crash events (`Service.wait_first`): four asyncio tasks and an
`asyncio.wait` per message. Measured with bench/faust_floor.py on this machine, that costs
more than half of the ~220 CPU-microseconds Faust spends per message, whatever the agent does.
This consumer runs the same race once per fetch: the fetched records are delivered in order
by one coroutine, and a suspend (a rebalance) or a stop still interrupts it between messages.
Everything else (fetching, offsets, gaps, commits, rebalancing) is Faust's own.

Registered as the `kafka-batched` transport through Faust's `faust.transports` entry point
(pyproject.toml), so an app selects it with `broker="kafka-batched://host:port"`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

_FETCHING = "FETCHING"
_YIELD_EVERY = 100


class Consumer(faust_aiokafka.Consumer):
    """aiokafka consumer whose drain loop delivers each fetch in one task."""

    async def _drain_messages(self, fetcher: Any) -> None:  # the method Faust's Fetcher service runs
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(_FETCHING)
                fetched = [item async for item in self.getmany(timeout=1.0)]
                await self.sleep(0)
                if fetched and not self.should_stop:
                    await self.wait_first(self._deliver(fetched), self.suspend_flow.wait())
                self.diag.unset_flag(_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(_FETCHING)

    async def _deliver(self, fetched: list[tuple[TP, Message]]) -> None:
        """Hand one fetch to the streams in offset order, as Faust's loop does message by message.

        A message below the partition's read offset was delivered before (a fetch that raced
        a seek) and is skipped; a jump in offsets is recorded as a gap so acks can still
        commit past it.
        """
        callback = self.callback
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        for count, (tp, message) in enumerate(fetched, 1):
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            offset = message.offset
            last = read_offset[tp]
            if last is not None and offset < last:
                continue
            if last and offset - last > 1 and acks_enabled_for(message.topic):
                await self._add_gap(tp, last + 1, offset)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()
            await callback(message)
            read_offset[tp] = offset


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport, with the batched drain above."""

    Consumer = Consumer
