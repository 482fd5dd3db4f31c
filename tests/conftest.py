pytest_plugins = [
    "tests.kafka_fixtures",
    "tests.hdfs_fixtures",
    "tests.live_fixtures",
]
