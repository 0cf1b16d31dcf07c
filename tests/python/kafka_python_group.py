"""kafka-python consumer group against a broker: two members split a topic's partitions, read every record, commit; a third sees the offsets at the log end.

Run with the Debian interpreter that has the module: /usr/bin/python3 kafka_python_group.py --bootstrap HOST:PORT --topic T --group G
The API versions are auto-negotiated (kafka-python uses older group protocol versions than librdkafka).
Exits non-zero with a FAIL line on stderr on any mismatch; on success prints one line `SUMMARY {json}`.
"""

import argparse
import json
import sys
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

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

    admin = KafkaAdminClient(bootstrap_servers=a.bootstrap)
    admin.create_topics([NewTopic(a.topic, PARTITIONS, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=a.bootstrap)
    for i in range(COUNT):
        producer.send(a.topic, key=str(i % 31).encode(), value=str(i).encode())
    producer.flush()
    producer.close()

    def member():
        return KafkaConsumer(a.topic, bootstrap_servers=a.bootstrap, group_id=a.group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=10000, heartbeat_interval_ms=1000)

    # One thread per member: kafka-python's poll() blocks while its member rejoins, and a rebalance
    # completes only when every member has rejoined, so members polled in turn would wait on each other.
    members = [member(), member()]
    seen = set()
    assigned = [set(), set()]
    lock = threading.Lock()
    stop = threading.Event()

    def run(i, c):
        while not stop.is_set():
            batch = c.poll(timeout_ms=200)
            with lock:
                for records in batch.values():
                    for r in records:
                        seen.add(int(r.value))
                assigned[i] = set(tp.partition for tp in c.assignment())
        c.commit()
        c.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(members)]
    for t in threads:
        t.start()
    deadline = time.time() + DEADLINE_S
    disjoint = False
    while time.time() < deadline:
        with lock:
            disjoint = all(assigned) and len(set().union(*assigned)) == PARTITIONS and sum(len(x) for x in assigned) == PARTITIONS
            done = len(seen) == COUNT and disjoint
        if done:
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    if len(seen) != COUNT:
        fail("consumed {} distinct records of {}".format(len(seen), COUNT))
    if not disjoint:
        fail("members do not split the partitions: {}".format(assigned))

    checker = KafkaConsumer(bootstrap_servers=a.bootstrap, group_id=a.group, enable_auto_commit=False)
    tps = [TopicPartition(a.topic, p) for p in range(PARTITIONS)]
    ends = checker.end_offsets(tps)
    committed = {tp.partition: checker.committed(tp) for tp in tps}
    checker.close()
    at_end = all(committed[tp.partition] == ends[tp] for tp in tps)
    if not at_end:
        fail("committed {} but log ends {}".format(committed, {tp.partition: o for tp, o in ends.items()}))
    print("SUMMARY " + json.dumps({"client": "kafka-python", "consumed_distinct": len(seen),
                                   "members_disjoint": disjoint, "committed_at_end": at_end}), flush=True)


if __name__ == "__main__":
    main()
