"""Alerting: rules over the execution telemetry, delivered to Slack, webhooks, email, console.

``rules`` judge a session (whole-session summary and sliding ``window``s, read through the
query layer by a ``tracker``); ``lifecycle`` turns verdicts into alerts that fire, escalate
and resolve, with de-duplication, cooldowns, acknowledgements and snoozes; ``state`` persists
them atomically; ``delivery`` sends notifications from per-channel workers with timeouts and
retries, recording every attempt; ``engine`` runs it all once (cron) or continuously, over
the logs or the Redis stream; ``cli`` is ``telemetry-alerts``.
"""
