"""The worker's partitioner is Kafka's: the same murmur2 as the Java client and aiokafka."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from logradar.partitioning import kafka_partition, murmur2

# org.apache.kafka.common.utils.UtilsTest#testMurmur2: Java's signed 32-bit results
JAVA = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), JAVA.items())
def test_murmur2_is_the_java_clients(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected & 0xFFFFFFFF


@given(st.binary(max_size=300))
def test_murmur2_equals_aiokafkas(data: bytes) -> None:
    # every tail length (0-3 bytes) and keys longer than the cached word counts (256 bytes)
    assert murmur2(data) == aiokafka_murmur2(data)


@given(st.one_of(st.none(), st.binary(max_size=80)), st.integers(1, 64))
def test_the_partition_is_aiokafkas_default(key: bytes | None, n: int) -> None:
    partitions = list(range(n))
    chosen = kafka_partition(key, partitions, partitions)
    if key is None:
        assert chosen in partitions
    else:
        assert chosen == DefaultPartitioner()(key, partitions, partitions)


def test_a_null_key_goes_to_an_available_partition() -> None:
    assert {kafka_partition(None, [0, 1, 2, 3], [2]) for _ in range(50)} == {2}
