"""Coverage-guided fuzzing of the normaliser with atheris: `make fuzz` (time-bounded).

Every input is fed to ``parse`` (one record) and to ``parse_batch`` in each
batched encoding, with and without a Kafka time. Each must return a LogEvent or
a DeadLetter (a non-empty list of them for batches) and never raise; a LogEvent
must have a finite time inside the plausibility window and a non-empty service.
Any exception or failed check is a crash: atheris stops and writes the input to
a ``crash-*`` file.
"""

from __future__ import annotations

import math
import sys

import atheris

with atheris.instrument_imports():
    from logradar.model import DeadLetter, LogEvent
    from logradar.parsing import parse
    from logradar.parsing.batched import parse_batch

ENCODINGS = ("ndjson", "otlp_json", "otlp_proto")
KAFKA_TS = 1_700_000_000.0
YEAR_2000 = 946_684_800.0


def check(item: object, kafka_ts: float | None) -> None:
    if isinstance(item, DeadLetter):
        return
    assert isinstance(item, LogEvent), item
    assert math.isfinite(item.ts) and item.ts >= YEAR_2000, item
    if kafka_ts is not None:
        assert item.ts <= kafka_ts + 86400, item
    assert item.service, item


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    kafka_ts = KAFKA_TS if fdp.ConsumeBool() else None
    key = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 16)) or None
    value = fdp.ConsumeBytes(fdp.remaining_bytes())
    check(parse(value, key=key, kafka_ts=kafka_ts), kafka_ts)
    for encoding in ENCODINGS:
        items = parse_batch(value, encoding=encoding, key=key, kafka_ts=kafka_ts)
        assert items, encoding
        for item in items:
            check(item, kafka_ts)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
