// Command franztx drives Weft with franz-go (github.com/twmb/franz-go), a Kafka client written
// independently of the Java client and librdkafka. It prints one JSON line on stdout that the Rust test
// (tests/e2e_transactions.rs) checks; any client error exits non-zero with the error on stderr.
//
//	franztx idempotent -b ADDR -topic T -n N
//	    produces N records with the idempotent producer (franz-go's default) and reads them back.
//	franztx transactions -b ADDR -topic T -partitions P -txid ID -transactions K
//	    K transactions of 10 records each, round-robin over P partitions: even ones committed, odd ones
//	    aborted; then one committed transaction with a sentinel per partition. Reads the topic back with
//	    read_committed and with read_uncommitted up to the sentinels.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "franztx: "+format+"\n", args...)
	os.Exit(1)
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("encode output: %v", err)
	}
	fmt.Println(string(b))
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: franztx idempotent|transactions [flags]")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	broker := fs.String("b", "127.0.0.1:9092", "bootstrap address")
	topic := fs.String("topic", "", "topic")
	n := fs.Int("n", 1000, "records (idempotent)")
	partitions := fs.Int("partitions", 3, "partitions of the topic (transactions)")
	txid := fs.String("txid", "franz-tx", "transactional.id (transactions)")
	transactions := fs.Int("transactions", 10, "transactions (transactions)")
	_ = fs.Parse(os.Args[2:])
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	switch mode {
	case "idempotent":
		idempotent(ctx, *broker, *topic, *n)
	case "transactions":
		transact(ctx, *broker, *topic, *partitions, *txid, *transactions)
	default:
		fail("unknown mode %q", mode)
	}
}

func idempotent(ctx context.Context, broker, topic string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf("v%d", i))},
			func(_ *kgo.Record, err error) {
				if err != nil {
					fail("produce: %v", err)
				}
			})
	}
	if err := cl.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	values := consume(ctx, broker, topic, kgo.ReadCommitted(), func(got []string) bool { return len(got) >= n })
	emit(map[string]any{"values": values})
}

func transact(ctx context.Context, broker, topic string, partitions int, txid string, transactions int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(topic),
		kgo.TransactionalID(txid), kgo.TransactionTimeout(30*time.Second),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		fail("client: %v", err)
	}
	defer cl.Close()
	var committed, all []string
	seq := 0
	for t := 0; t <= transactions; t++ {
		if err := cl.BeginTransaction(); err != nil {
			fail("begin %d: %v", t, err)
		}
		var batch []string
		if t == transactions {
			for p := 0; p < partitions; p++ {
				v := fmt.Sprintf("sentinel-%d", p)
				batch = append(batch, v)
				produceSync(ctx, cl, topic, int32(p), v)
			}
		} else {
			for i := 0; i < 10; i++ {
				v := fmt.Sprintf("t%d-r%d", t, i)
				batch = append(batch, v)
				produceSync(ctx, cl, topic, int32(seq%partitions), v)
				seq++
			}
		}
		commit := t%2 == 0 || t == transactions
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			fail("end transaction %d (commit=%v): %v", t, commit, err)
		}
		all = append(all, batch...)
		if commit {
			committed = append(committed, batch...)
		}
	}
	sentinels := func(got []string) bool {
		seen := 0
		for _, v := range got {
			if len(v) > 9 && v[:9] == "sentinel-" {
				seen++
			}
		}
		return seen == partitions
	}
	readCommitted := consume(ctx, broker, topic, kgo.ReadCommitted(), sentinels)
	readUncommitted := consume(ctx, broker, topic, kgo.ReadUncommitted(), sentinels)
	emit(map[string]any{
		"produced":         all,
		"committed":        committed,
		"read_committed":   readCommitted,
		"read_uncommitted": readUncommitted,
	})
}

func produceSync(ctx context.Context, cl *kgo.Client, topic string, partition int32, v string) {
	r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte(v)}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		fail("produce %s: %v", v, err)
	}
}

// consume reads the topic from the start with the given isolation level until done says so.
func consume(ctx context.Context, broker, topic string, iso kgo.IsolationLevel, done func([]string) bool) []string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	if err != nil {
		fail("consumer: %v", err)
	}
	defer cl.Close()
	var got []string
	for !done(got) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			fail("read %d records before the deadline: %v", len(got), got)
		}
		fetches.EachError(func(t string, p int32, err error) {
			fail("fetch %s-%d: %v", t, p, err)
		})
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}
