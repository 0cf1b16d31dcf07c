"""confluent-kafka (librdkafka) round trip against a broker: create a topic, produce keyed records with headers, read them back, verify.

Run with the Debian interpreter that has the module: /usr/bin/python3 confluent_roundtrip.py --bootstrap HOST:PORT --topic T
Exits non-zero with a FAIL line on stderr on any mismatch; on success prints one line `SUMMARY {json}`.
"""

import argparse
import json
import sys
import time

import confluent_kafka
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_CREATE_TIME,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE_S = 90


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def expected_record(i, keys, base_ts):
    key = "key-{}".format(i % keys).encode()
    value = ("value-{}-".format(i) + "x" * (i % 17)).encode()
    headers = [
        ("idx", str(i).encode()),
        ("client", b"confluent-kafka"),
        ("empty", b""),
    ]
    return key, value, headers, base_ts + i


def create_topic(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
        operation_timeout=30,
        request_timeout=30,
    )
    try:
        futures[topic].result(timeout=60)
    except Exception as e:  # noqa: BLE001 - any admin failure is a test failure
        fail("AdminClient.create_topics({}) failed: {!r}".format(topic, e))
    md = admin.list_topics(topic=topic, timeout=30)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        fail("metadata for new topic {}: {!r}".format(topic, None if t is None else t.error))
    if sorted(t.partitions) != list(range(partitions)):
        fail("topic {} has partitions {}, expected 0..{}".format(topic, sorted(t.partitions), partitions - 1))
    if len(md.brokers) != 1:
        fail("expected exactly one broker in metadata, got {}".format(md.brokers))
    return partitions


def produce(bootstrap, topic, count, keys, base_ts, compression):
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": compression,
            "linger.ms": 5,
            "acks": "all",
            "partitioner": "murmur2_random",
        }
    )
    delivered = {}

    def on_delivery(err, msg, i):
        delivered[i] = (err, msg.partition(), msg.offset())

    for i in range(count):
        key, value, headers, ts = expected_record(i, keys, base_ts)
        while True:
            try:
                producer.produce(
                    topic,
                    key=key,
                    value=value,
                    headers=headers,
                    timestamp=ts,
                    on_delivery=lambda err, msg, i=i: on_delivery(err, msg, i),
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining != 0:
        fail("{} records still undelivered after flush(60)".format(remaining))
    if len(delivered) != count:
        fail("{} delivery reports for {} records".format(len(delivered), count))
    errors = [(i, str(e)) for i, (e, _, _) in delivered.items() if e is not None]
    if errors:
        fail("{} deliveries failed, first: {}".format(len(errors), errors[:3]))
    return {i: (p, o) for i, (_, p, o) in delivered.items()}


def check_placement(placement, keys, partitions):
    """Offsets per partition are 0..n-1 in send order; one key always lands on one partition."""
    by_partition = {}
    key_partition = {}
    for i in sorted(placement):
        p, o = placement[i]
        if not 0 <= p < partitions:
            fail("record {} delivered to partition {} of a {}-partition topic".format(i, p, partitions))
        by_partition.setdefault(p, []).append(o)
        k = i % keys
        if key_partition.setdefault(k, p) != p:
            fail("key-{} went to partitions {} and {}".format(k, key_partition[k], p))
    for p, offsets in by_partition.items():
        if offsets != list(range(len(offsets))):
            fail("partition {} offsets in send order are not 0..n-1: {}".format(p, offsets[:20]))
    return {p: len(o) for p, o in by_partition.items()}


def consume(bootstrap, topic, partitions, per_partition, group):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # librdkafka wants a group id even for assign(); nothing is committed with it.
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    for p in range(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
        if low != 0 or high != per_partition.get(p, 0):
            fail(
                "partition {} watermarks ({}, {}), expected (0, {})".format(p, low, high, per_partition.get(p, 0))
            )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    received = []
    at_eof = set()
    other_errors = []
    total = sum(per_partition.values())
    deadline = time.time() + DEADLINE_S
    while len(at_eof) < partitions or len(received) < total:
        if time.time() > deadline:
            fail(
                "timed out consuming: {} of {} records, EOF on {} of {} partitions, errors {}".format(
                    len(received), total, len(at_eof), partitions, other_errors[:5]
                )
            )
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_eof.add(msg.partition())
                continue
            if msg.error().fatal():
                fail("fatal consumer error: {}".format(msg.error()))
            other_errors.append(str(msg.error()))
            continue
        at_eof.discard(msg.partition())
        received.append(msg)
    consumer.close()
    if other_errors:
        print("consumer reported non-fatal errors: {}".format(other_errors[:5]), file=sys.stderr)
    return received


def verify(received, placement, keys, base_ts, count):
    if len(received) != count:
        fail("consumed {} records, produced {}".format(len(received), count))
    by_position = {v: i for i, v in placement.items()}
    seen = set()
    last_offset = {}
    for msg in received:
        pos = (msg.partition(), msg.offset())
        i = by_position.get(pos)
        if i is None:
            fail("consumed a record at {} that was never produced".format(pos))
        if i in seen:
            fail("record {} at {} consumed twice".format(i, pos))
        seen.add(i)
        if msg.offset() <= last_offset.get(msg.partition(), -1):
            fail("partition {} went backwards: {} after {}".format(msg.partition(), msg.offset(), last_offset[msg.partition()]))
        last_offset[msg.partition()] = msg.offset()
        key, value, headers, ts = expected_record(i, keys, base_ts)
        if msg.key() != key:
            fail("record {}: key {!r}, expected {!r}".format(i, msg.key(), key))
        if msg.value() != value:
            fail("record {}: value {!r}, expected {!r}".format(i, msg.value(), value))
        got_headers = list(msg.headers() or [])
        if got_headers != headers:
            fail("record {}: headers {!r}, expected {!r}".format(i, got_headers, headers))
        if msg.timestamp() != (TIMESTAMP_CREATE_TIME, ts):
            fail("record {}: timestamp {!r}, expected {!r}".format(i, msg.timestamp(), (TIMESTAMP_CREATE_TIME, ts)))
    return len(seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--keys", type=int, default=50)
    ap.add_argument("--compression", default="none")
    args = ap.parse_args()

    # Whole milliseconds a minute in the past: exact round trip, far inside any retention.
    base_ts = int(time.time() * 1000) - 60_000
    partitions = create_topic(args.bootstrap, args.topic, args.partitions)
    placement = produce(args.bootstrap, args.topic, args.count, args.keys, base_ts, args.compression)
    per_partition = check_placement(placement, args.keys, partitions)
    received = consume(args.bootstrap, args.topic, partitions, per_partition, "e2e-confluent-" + args.topic)
    verified = verify(received, placement, args.keys, base_ts, args.count)

    summary = {
        "client": "confluent-kafka",
        "version": confluent_kafka.version()[0],
        "librdkafka": confluent_kafka.libversion()[0],
        "topic": args.topic,
        "compression": args.compression,
        "produced": len(placement),
        "consumed": len(received),
        "verified": verified,
        "partitions_used": sorted(per_partition),
        "per_partition": {str(p): n for p, n in sorted(per_partition.items())},
        "distinct_keys": len({bytes(m.key()) for m in received}),
        "headers_per_record": 3,
    }
    print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
