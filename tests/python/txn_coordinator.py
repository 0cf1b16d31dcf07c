"""confluent-kafka (librdkafka) transactional producers against a broker, one scenario per run.

Run with the Debian interpreter that has the module:
  /usr/bin/python3 txn_coordinator.py SCENARIO --bootstrap HOST:PORT [options]

Scenarios:
  commit-abort   transactions across 3 partitions, every third one aborted; read_committed and
                 read_uncommitted consumers read the topic back.
  open           begins a transaction, produces --count records to every partition, flushes, prints
                 OPEN, then waits for a line on stdin: "commit" commits, "abort" aborts (a test may
                 kill it instead and leave the transaction open).
  fence          a second producer with the same transactional.id fences the first mid-transaction.
  send-offsets   consume-transform-produce with send_offsets_to_transaction: offsets invisible until
                 the commit, dropped by an abort.
  read           reads --topic to its end with read_committed and read_uncommitted consumers.

Prints one line `SUMMARY {json}` on success; exits non-zero with a FAIL line on stderr otherwise.
"""

import argparse
import json
import sys
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE_S = 90


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def summary(obj):
    print("SUMMARY " + json.dumps(obj, sort_keys=True), flush=True)


def create_topic(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    try:
        fut[topic].result(timeout=60)
    except KafkaException as e:
        if "TOPIC_ALREADY_EXISTS" not in str(e):
            raise


def producer(bootstrap, tid, timeout_ms=60000):
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": tid,
            "transaction.timeout.ms": timeout_ms,
            "linger.ms": 5,
        }
    )
    p.init_transactions(60)
    return p


def read_all(bootstrap, topic, partitions, isolation):
    """Every record of `topic` from the beginning to the end of each partition for the consumer's
    isolation level (the high watermark, or the last stable offset for read_committed), as
    librdkafka's partition EOF events tell it."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "reader-" + isolation + "-" + str(time.time()),
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
        }
    )
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    values = []
    done = set()
    deadline = time.time() + DEADLINE_S
    while len(done) < partitions:
        if time.time() > deadline:
            fail("{}: timed out reading {} (at end: {})".format(isolation, topic, sorted(done)))
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            fail("{}: consumer error {}".format(isolation, m.error()))
        values.append(m.value().decode())
    c.close()
    return values


def scenario_commit_abort(a):
    create_topic(a.bootstrap, a.topic, 3)
    p = producer(a.bootstrap, a.tid)
    committed, aborted = [], []
    for t in range(a.transactions):
        p.begin_transaction()
        batch = []
        for i in range(a.count):
            v = "txn{}-rec{}".format(t, i)
            p.produce(a.topic, value=v.encode(), partition=i % 3)
            batch.append(v)
        if t % 3 == 2:
            # librdkafka purges what it has not sent yet on abort: send it, so the log holds
            # aborted records for read_uncommitted to see and read_committed to skip.
            p.flush(60)
            p.abort_transaction(60)
            aborted.extend(batch)
        else:
            p.commit_transaction(60)
            committed.extend(batch)
    rc = read_all(a.bootstrap, a.topic, 3, "read_committed")
    ru = read_all(a.bootstrap, a.topic, 3, "read_uncommitted")
    if sorted(rc) != sorted(committed):
        fail("read_committed saw {} records, expected the {} committed ones (extra: {}, missing: {})".format(
            len(rc), len(committed), sorted(set(rc) - set(committed))[:5], sorted(set(committed) - set(rc))[:5]))
    if sorted(ru) != sorted(committed + aborted):
        fail("read_uncommitted saw {} records, expected all {}".format(len(ru), len(committed + aborted)))
    summary({"committed": len(committed), "aborted": len(aborted), "read_committed": len(rc),
             "read_uncommitted": len(ru)})


def scenario_open(a):
    create_topic(a.bootstrap, a.topic, 3)
    p = producer(a.bootstrap, a.tid, a.timeout_ms)
    p.begin_transaction()
    for i in range(a.count):
        p.produce(a.topic, value="open-rec{}".format(i).encode(), partition=i % 3)
    p.flush(60)
    print("OPEN", flush=True)
    line = sys.stdin.readline().strip()
    if line == "commit":
        p.commit_transaction(60)
    elif line == "abort":
        p.abort_transaction(60)
    else:
        fail("unexpected command {!r}".format(line))
    summary({"ended": line, "count": a.count})


def scenario_fence(a):
    create_topic(a.bootstrap, a.topic, 3)
    first = producer(a.bootstrap, a.tid)
    first.begin_transaction()
    for i in range(a.count):
        first.produce(a.topic, value="zombie-{}".format(i).encode(), partition=i % 3)
    first.flush(60)
    second = producer(a.bootstrap, a.tid)  # fences the first: its open transaction is aborted
    second.begin_transaction()
    for i in range(a.count):
        second.produce(a.topic, value="second-{}".format(i).encode(), partition=i % 3)
    second.commit_transaction(60)
    fenced = None
    try:
        first.produce(a.topic, value=b"zombie-late", partition=0)
        first.commit_transaction(30)
    except KafkaException as e:
        err = e.args[0]
        fenced = {"name": err.name(), "fatal": err.fatal(), "str": err.str()}
    if fenced is None:
        fail("the fenced producer committed")
    rc = read_all(a.bootstrap, a.topic, 3, "read_committed")
    want = ["second-{}".format(i) for i in range(a.count)]
    if sorted(rc) != sorted(want):
        fail("read_committed saw {} (expected only the second producer's {})".format(sorted(rc)[:6], len(want)))
    summary({"fenced": fenced, "read_committed": len(rc)})


def committed_offsets(bootstrap, group, topic, partitions, isolation):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": isolation})
    got = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
    c.close()
    return {tp.partition: tp.offset for tp in got}


def scenario_send_offsets(a):
    inp, out = a.topic + "-in", a.topic + "-out"
    create_topic(a.bootstrap, inp, 3)
    create_topic(a.bootstrap, out, 3)
    plain = Producer({"bootstrap.servers": a.bootstrap})
    for i in range(a.count):
        plain.produce(inp, value="in-{}".format(i).encode(), partition=i % 3)
    plain.flush(60)
    group = a.topic + "-group"
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
    c.assign([TopicPartition(inp, p, OFFSET_BEGINNING) for p in range(3)])
    p = producer(a.bootstrap, a.tid)

    def transform(n):
        got = 0
        deadline = time.time() + DEADLINE_S
        while got < n:
            if time.time() > deadline:
                fail("timed out consuming input")
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                fail("consumer error {}".format(m.error()))
            p.produce(out, value=m.value(), partition=m.partition())
            got += 1

    # An aborted transaction: its offsets must never become visible.
    p.begin_transaction()
    transform(a.count // 2)
    p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
    p.abort_transaction(60)
    after_abort = committed_offsets(a.bootstrap, group, inp, 3, "read_uncommitted")
    # Start over from the beginning, then commit everything in one transaction.
    c.assign([TopicPartition(inp, q, OFFSET_BEGINNING) for q in range(3)])
    p.begin_transaction()
    transform(a.count)
    positions = {tp.partition: tp.offset for tp in c.position(c.assignment())}
    p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
    p.flush(60)
    before_commit = committed_offsets(a.bootstrap, group, inp, 3, "read_uncommitted")
    p.commit_transaction(60)
    after_commit = committed_offsets(a.bootstrap, group, inp, 3, "read_committed")
    c.close()
    if any(o >= 0 for o in after_abort.values()):
        fail("offsets of an aborted transaction became visible: {}".format(after_abort))
    if any(o >= 0 for o in before_commit.values()):
        fail("offsets visible before the commit: {}".format(before_commit))
    if after_commit != positions:
        fail("committed offsets {} != consumed positions {}".format(after_commit, positions))
    rc = read_all(a.bootstrap, out, 3, "read_committed")
    if sorted(rc) != sorted("in-{}".format(i) for i in range(a.count)):
        fail("output has {} records under read_committed, expected {} once each".format(len(rc), a.count))
    summary({"positions": {str(k): v for k, v in positions.items()}, "output": len(rc),
             "before_commit": {str(k): v for k, v in before_commit.items()}})


def scenario_read(a):
    rc = read_all(a.bootstrap, a.topic, 3, "read_committed")
    ru = read_all(a.bootstrap, a.topic, 3, "read_uncommitted")
    summary({"read_committed": sorted(rc), "read_uncommitted": sorted(ru)})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", default="txn")
    ap.add_argument("--tid", default="txn-producer")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--transactions", type=int, default=9)
    ap.add_argument("--timeout-ms", type=int, default=60000)
    a = ap.parse_args()
    run = {
        "commit-abort": scenario_commit_abort,
        "open": scenario_open,
        "fence": scenario_fence,
        "send-offsets": scenario_send_offsets,
        "read": scenario_read,
    }.get(a.scenario)
    if run is None:
        fail("unknown scenario " + a.scenario)
    run(a)


if __name__ == "__main__":
    main()
