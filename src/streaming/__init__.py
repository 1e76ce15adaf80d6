"""Scale-out: reading the Redis event stream.

    src.streaming.collector    Collector: the stream -> the central per-session JSONL archive
    src.streaming.follow       follow_stream(): live events for dashboards and alerting
    src.streaming.dedup        SeenEvents: exactly-once lines from at-least-once delivery
    src.streaming.collect_cli  the ``telemetry-collect`` command
    src.streaming.metrics_cli  the ``telemetry-metrics`` command (stream -> Prometheus exporter)
    src.streaming.redis_server RedisServer: a throw-away redis-server for tests and benchmarks

The producing side is :class:`src.execution.telemetry.RedisStreamEmitter`.
"""
