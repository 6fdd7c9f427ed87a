"""Topics the worker reads and writes. Values are raw bytes: logradar encodes JSON itself."""

from __future__ import annotations

from streams.app import app, settings

raw_logs = app.topic(*settings.input_topics, key_serializer="raw", value_serializer="raw")
counts = app.topic(settings.counts_topic, key_serializer="raw", value_serializer="raw")
alerts = app.topic(settings.alerts_topic, key_serializer="raw", value_serializer="raw")
dead_letters = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")
sessions = app.topic(settings.sessions_topic, key_serializer="raw", value_serializer="raw")
# Events that pattern and session rules need, keyed by their correlation value
# (user=u42), so that every event of one user or order meets on one partition.
correlate = app.topic(
    f"{settings.app_id}-correlate",
    partitions=settings.topic_partitions,
    internal=True,
    key_serializer="raw",
    value_serializer="raw",
)
