"""kafka-python round trip against a broker: admin-create a topic, produce keyed records with headers, read them back, verify.

Run with the Debian interpreter that has the module: /usr/bin/python3 kafka_python_roundtrip.py --bootstrap HOST:PORT --topic T
The API version is auto-negotiated (never pinned). Consumes with a consumer group that commits when the
broker advertises the group APIs, otherwise with assign() + seek_to_beginning().
Exits non-zero with a FAIL line on stderr on any mismatch; on success prints one line `SUMMARY {json}`.
"""

import argparse
import json
import sys
import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

DEADLINE_S = 90

# OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup.
GROUP_API_KEYS = (8, 9, 10, 11, 12, 13, 14)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def expected_record(i, keys, base_ts):
    key = "key-{}".format(i % keys).encode()
    value = ("value-{}-".format(i) + "y" * (i % 13)).encode()
    headers = [("idx", str(i).encode()), ("client", b"kafka-python"), ("empty", b"")]
    return key, value, headers, base_ts + i


def admin_create(bootstrap, topic, partitions):
    """Creates the topic with KafkaAdminClient; returns the negotiated broker version and the ApiVersions map."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="weft-e2e-admin", request_timeout_ms=30000)
    try:
        api_version = admin.config["api_version"]
        versions = admin._client.get_api_versions()  # filled in by the auto-negotiation at start
        if not versions:
            fail("kafka-python negotiated {} but has no ApiVersions map".format(api_version))
        admin.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)], timeout_ms=30000)
        deadline = time.time() + 30
        while topic not in admin.list_topics():
            if time.time() > deadline:
                fail("topic {} not listed after create_topics".format(topic))
            time.sleep(0.1)
        described = admin.describe_topics([topic])
        if len(described) != 1 or described[0]["error_code"] != 0:
            fail("describe_topics({}) = {!r}".format(topic, described))
        got = sorted(p["partition"] for p in described[0]["partitions"])
        if got != list(range(partitions)):
            fail("topic {} has partitions {}, expected 0..{}".format(topic, got, partitions - 1))
    finally:
        admin.close()
    return api_version, versions


def produce(bootstrap, topic, count, keys, base_ts):
    """The first half is sent uncompressed, the second half gzip-compressed (gzip needs no extra module)."""
    placement = {}
    half = count // 2
    for lo, hi, compression in ((0, half, None), (half, count, "gzip")):
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="weft-e2e-producer",
            acks="all",
            linger_ms=5,
            compression_type=compression,
        )
        futures = []
        for i in range(lo, hi):
            key, value, headers, ts = expected_record(i, keys, base_ts)
            futures.append((i, producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=ts)))
        producer.flush(timeout=60)
        for i, fut in futures:
            try:
                md = fut.get(timeout=60)
            except Exception as e:  # noqa: BLE001 - any send failure is a test failure
                fail("send of record {} ({}) failed: {!r}".format(i, compression, e))
            placement[i] = (md.partition, md.offset)
        producer.close(timeout=30)
    return placement


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


def poll_all(consumer, total):
    received = []
    deadline = time.time() + DEADLINE_S
    while len(received) < total:
        if time.time() > deadline:
            fail("timed out consuming: {} of {} records".format(len(received), total))
        for records in consumer.poll(timeout_ms=1000).values():
            received.extend(records)
    return received


def check_offsets(consumer, tps, per_partition):
    begin = consumer.beginning_offsets(tps)
    end = consumer.end_offsets(tps)
    for tp in tps:
        if begin[tp] != 0 or end[tp] != per_partition.get(tp.partition, 0):
            fail(
                "{}: beginning/end offsets ({}, {}), expected (0, {})".format(
                    tp, begin[tp], end[tp], per_partition.get(tp.partition, 0)
                )
            )
    return end


def consume_group(bootstrap, topic, partitions, per_partition, group):
    total = sum(per_partition.values())
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        client_id="weft-e2e-consumer",
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    received = poll_all(consumer, total)
    end = check_offsets(consumer, tps, per_partition)
    consumer.commit()
    for tp in tps:
        committed = consumer.committed(tp)
        if committed != end[tp]:
            fail("{}: committed offset {}, expected the end offset {}".format(tp, committed, end[tp]))
    consumer.close()

    # A new member of the same group resumes at the committed offsets: nothing is delivered again.
    again = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        client_id="weft-e2e-consumer-2",
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    deadline = time.time() + DEADLINE_S
    redelivered = []
    while len(again.assignment()) < partitions:
        if time.time() > deadline:
            fail("second group member got assignment {} of {} partitions".format(again.assignment(), partitions))
        for records in again.poll(timeout_ms=500).values():
            redelivered.extend(records)
    for tp in tps:
        if again.position(tp) != end[tp]:
            fail("{}: second group member starts at {}, committed {}".format(tp, again.position(tp), end[tp]))
    if redelivered:
        fail("{} records delivered again after commit".format(len(redelivered)))
    again.close()
    return received


def consume_assign(bootstrap, topic, partitions, per_partition):
    total = sum(per_partition.values())
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="weft-e2e-consumer",
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found = consumer.partitions_for_topic(topic)
    if found != set(range(partitions)):
        fail("partitions_for_topic({}) = {}, expected 0..{}".format(topic, found, partitions - 1))
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    received = poll_all(consumer, total)
    end = check_offsets(consumer, tps, per_partition)
    for tp in tps:
        if consumer.position(tp) != end[tp]:
            fail("{}: position {} after consuming everything, end offset {}".format(tp, consumer.position(tp), end[tp]))
    consumer.close()
    return received


def verify(received, placement, keys, base_ts, count):
    if len(received) != count:
        fail("consumed {} records, produced {}".format(len(received), count))
    by_position = {v: i for i, v in placement.items()}
    seen = set()
    last_offset = {}
    for r in received:
        pos = (r.partition, r.offset)
        i = by_position.get(pos)
        if i is None:
            fail("consumed a record at {} that was never produced".format(pos))
        if i in seen:
            fail("record {} at {} consumed twice".format(i, pos))
        seen.add(i)
        if r.offset <= last_offset.get(r.partition, -1):
            fail("partition {} went backwards: {} after {}".format(r.partition, r.offset, last_offset[r.partition]))
        last_offset[r.partition] = r.offset
        key, value, headers, ts = expected_record(i, keys, base_ts)
        if r.key != key:
            fail("record {}: key {!r}, expected {!r}".format(i, r.key, key))
        if r.value != value:
            fail("record {}: value {!r}, expected {!r}".format(i, r.value, value))
        if list(r.headers) != headers:
            fail("record {}: headers {!r}, expected {!r}".format(i, r.headers, headers))
        if r.timestamp != ts or r.timestamp_type != 0:
            fail("record {}: timestamp {} type {}, expected {} CreateTime".format(i, r.timestamp, r.timestamp_type, ts))
    return len(seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--keys", type=int, default=40)
    args = ap.parse_args()

    base_ts = int(time.time() * 1000) - 60_000
    api_version, versions = admin_create(args.bootstrap, args.topic, args.partitions)
    groups = all(k in versions for k in GROUP_API_KEYS)
    placement = produce(args.bootstrap, args.topic, args.count, args.keys, base_ts)
    per_partition = check_placement(placement, args.keys, args.partitions)
    if groups:
        received = consume_group(args.bootstrap, args.topic, args.partitions, per_partition, "e2e-kp-" + args.topic)
    else:
        received = consume_assign(args.bootstrap, args.topic, args.partitions, per_partition)
    verified = verify(received, placement, args.keys, base_ts, args.count)

    summary = {
        "client": "kafka-python",
        "version": kafka.__version__,
        "negotiated_api_version": ".".join(str(x) for x in api_version),
        "advertised_api_keys": sorted(versions),
        "groups": groups,
        "mode": "group" if groups else "assign",
        "admin_created": True,
        "topic": args.topic,
        "produced": len(placement),
        "consumed": len(received),
        "verified": verified,
        "compressions": ["none", "gzip"],
        "partitions_used": sorted(per_partition),
        "per_partition": {str(p): n for p, n in sorted(per_partition.items())},
        "distinct_keys": len({r.key for r in received}),
        "headers_per_record": 3,
    }
    print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
