"""The local development and test stack: a real Kafka broker (KRaft, from the Maven jars), the
HDFS minicluster, the jars they need, and the processes of `fwjr up`.

Nothing in production imports this package: there the broker, HDFS and the store are services
(compose.yaml, docs/deployment.md).
"""
