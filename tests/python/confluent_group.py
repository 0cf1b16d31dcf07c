"""confluent-kafka consumer group against a broker: two members split a topic's partitions, read every record, commit; a third sees the offsets at the log end.

Run with the Debian interpreter that has the module: /usr/bin/python3 confluent_group.py --bootstrap HOST:PORT --topic T --group G
Exits non-zero with a FAIL line on stderr on any mismatch; on success prints one line `SUMMARY {json}`.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE_S = 120
COUNT = 2000
PARTITIONS = 4


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    a = ap.parse_args()

    admin = AdminClient({"bootstrap.servers": a.bootstrap})
    for f in admin.create_topics([NewTopic(a.topic, num_partitions=PARTITIONS, replication_factor=1)]).values():
        f.result()
    producer = Producer({"bootstrap.servers": a.bootstrap})
    for i in range(COUNT):
        producer.produce(a.topic, key=str(i % 31), value=str(i))
        producer.poll(0)
    if producer.flush(60) != 0:
        fail("records not delivered")

    def member():
        c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
        c.subscribe([a.topic])
        return c

    members = [member(), member()]
    seen = set()
    deadline = time.time() + DEADLINE_S
    disjoint = False
    while time.time() < deadline:
        for c in members:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                seen.add(int(m.value()))
        assigned = [set(tp.partition for tp in c.assignment()) for c in members]
        disjoint = all(assigned) and len(set().union(*assigned)) == PARTITIONS and sum(len(x) for x in assigned) == PARTITIONS
        if len(seen) == COUNT and disjoint:
            break
    if len(seen) != COUNT:
        fail("consumed {} distinct records of {}".format(len(seen), COUNT))
    if not disjoint:
        fail("members do not split the partitions: {}".format(assigned))
    for c in members:
        c.commit(asynchronous=False)
    for c in members:
        c.close()

    checker = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group})
    tps = [TopicPartition(a.topic, p) for p in range(PARTITIONS)]
    committed = {tp.partition: tp.offset for tp in checker.committed(tps, timeout=30)}
    ends = {p: checker.get_watermark_offsets(TopicPartition(a.topic, p), timeout=30)[1] for p in range(PARTITIONS)}
    checker.close()
    at_end = committed == ends
    if not at_end:
        fail("committed {} but log ends {}".format(committed, ends))
    print("SUMMARY " + json.dumps({"client": "confluent-kafka", "consumed_distinct": len(seen),
                                   "members_disjoint": disjoint, "committed_at_end": at_end}), flush=True)


if __name__ == "__main__":
    main()
