"""confluent-kafka (librdkafka) transactions against a broker: commit some transactions and abort others
across the topic's partitions, then read it back with read_committed and read_uncommitted.

Run with the Debian interpreter that has the module:
  /usr/bin/python3 confluent_transactions.py --bootstrap HOST:PORT --topic T --partitions 3 --txid ID
Transaction t sends 10 records `t<t>-r<i>` round-robin over the partitions; even t commit, odd t abort;
a last committed transaction puts `sentinel-<p>` in every partition. Prints one line `SUMMARY {json}`
with the produced, committed and read values; exits non-zero with a FAIL line on any client error.
"""

import argparse
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

DEADLINE_S = 90


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def produce(args):
    p = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "transactional.id": args.txid,
            "transaction.timeout.ms": 60000,
        }
    )
    p.init_transactions(30)
    produced, committed = [], []
    seq = 0
    for t in range(args.transactions + 1):
        p.begin_transaction()
        if t == args.transactions:
            batch = ["sentinel-%d" % part for part in range(args.partitions)]
            parts = list(range(args.partitions))
        else:
            batch = ["t%d-r%d" % (t, i) for i in range(10)]
            parts = [(seq + i) % args.partitions for i in range(10)]
            seq += 10
        for v, part in zip(batch, parts):
            p.produce(args.topic, value=v.encode(), partition=part)
        commit = t % 2 == 0 or t == args.transactions
        if commit:
            p.commit_transaction(30)
            committed += batch
        else:
            p.flush(30)
            p.abort_transaction(30)
        produced += batch
    return produced, committed


def read(args, isolation):
    c = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "confluent-tx-read-" + isolation,
            "isolation.level": isolation,
            "enable.auto.commit": False,
        }
    )
    c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in range(args.partitions)])
    got, sentinels = [], 0
    deadline = time.monotonic() + DEADLINE_S
    while sentinels < args.partitions:
        if time.monotonic() > deadline:
            fail("%s: saw %d of %d sentinels, read %r" % (isolation, sentinels, args.partitions, got))
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            fail("%s: %s" % (isolation, m.error()))
        v = m.value().decode()
        got.append(v)
        if v.startswith("sentinel-"):
            sentinels += 1
    c.close()
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--txid", required=True)
    ap.add_argument("--transactions", type=int, default=10)
    args = ap.parse_args()
    try:
        produced, committed = produce(args)
    except Exception as e:  # KafkaException carries the broker's error
        fail("transactional produce: %r" % (e,))
    summary = {
        "produced": produced,
        "committed": committed,
        "read_committed": read(args, "read_committed"),
        "read_uncommitted": read(args, "read_uncommitted"),
    }
    print("SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
