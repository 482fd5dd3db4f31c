"""Kafka I/O outside the stream worker: the one producer configuration, publishing FWJRs and
status events, and how far the consumer groups are behind.

The worker (streams/) consumes through Faust; everything else that writes to or reads offsets
from the broker goes through here, with confluent-kafka.
"""
