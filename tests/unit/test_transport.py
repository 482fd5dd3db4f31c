"""The worker's Faust transport is found through Faust's own registry (an installed entry point)."""

from faust.transport import by_url

from fwjr.config import Settings
from streams import transport
from streams.app import consumer_settings


def test_the_worker_broker_url_selects_the_batched_transport() -> None:
    url = consumer_settings(Settings(kafka_bootstrap="127.0.0.1:9092"))["broker"]
    assert by_url(url) is transport.Transport
    assert transport.Transport.Consumer is transport.Consumer


def test_the_stream_buffer_holds_a_whole_batch() -> None:
    settings = Settings(batch_size=5000)
    assert consumer_settings(settings)["stream_buffer_maxsize"] >= settings.batch_size
