"""Kafka's default partitioner (the Java client's murmur2), for the worker's producer.

The worker's outputs are keyed, and the key picks the partition exactly as the
Java producer and aiokafka's ``DefaultPartitioner`` do:
``(murmur2(key) & 0x7fffffff) % partitions``. aiokafka computes murmur2 one byte
at a time in Python, ~9 us for a counts key here, and a backlog's batch can close
~11,000 windows. :func:`murmur2` reads the key four bytes at a time with one
``struct`` call, the same hash in under half the time.
(tests/unit/test_partitioning.py checks it against aiokafka's and Kafka's own
test vectors.)
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF

# little-endian 32-bit words of a key of 4n bytes, by n; longer keys build theirs each time
_WORDS: dict[int, Callable[[bytes], tuple[int, ...]]] = {
    n: struct.Struct(f"<{n}I").unpack_from for n in range(65)
}


def murmur2(data: bytes) -> int:
    """MurmurHash2 of ``data`` as Kafka computes it (unsigned 32-bit)."""
    length = len(data)
    n = length >> 2
    words = _WORDS.get(n) or struct.Struct(f"<{n}I").unpack_from
    h = _SEED ^ length
    for k in words(data):
        k = (k * _M) & _MASK
        # (a mod 2^32) ^ (b mod 2^32) == (a ^ b) mod 2^32: one mask for both products
        h = ((h * _M) ^ ((k ^ (k >> 24)) * _M)) & _MASK
    extra = length & 3
    if extra:
        tail = length - extra
        if extra == 3:
            h ^= data[tail + 2] << 16
        if extra >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def kafka_partition(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """The partition the Java producer picks for ``key`` (a random available one for None).

    The signature is aiokafka's partitioner's, so Faust's ``producer_partitioner``
    setting takes it.
    """
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - spreading, not secrecy
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
