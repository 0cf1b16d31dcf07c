// Command saramaold drives Weft with sarama configured as an old Kafka version, the way tools built on
// older client libraries talk to a broker. Each mode prints one JSON line on stdout that the Rust test
// (tests/e2e_old_clients.rs) checks; any client error exits non-zero with the error on stderr.
//
//	saramaold offsets  -b ADDR -version V -topic T -partitions N
//	    earliest and latest offset of every partition (ListOffsets v0 for V < 0.10.1).
//	saramaold commit   -b ADDR -version V -group G -topic T -partition P -offset O
//	    commits O for the group outside any generation, then reads it back with a new offset manager.
//	saramaold group    -b ADDR -version V -group G -topic T -count N
//	    consumes with a consumer group until N records arrived, marking and committing each.
//	saramaold create   -b ADDR -version V -topic T -partitions N [-config KEY=VALUE]
//	    creates T with a ClusterAdmin (CreateTopics v0 for V < 0.10.2, v1 for V < 0.11).
//	saramaold describe -b ADDR -version V -topic T
//	    T's config entries with a ClusterAdmin (DescribeConfigs v0 for 0.11 <= V < 1.1).
//	saramaold delete   -b ADDR -version V -topic T
//	    deletes T with a ClusterAdmin (DeleteTopics v0 for V < 0.11).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "saramaold: "+format+"\n", args...)
	os.Exit(1)
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fail("encode output: %v", err)
	}
	fmt.Println(string(b))
}

func config(version string) *sarama.Config {
	v, err := sarama.ParseKafkaVersion(version)
	if err != nil {
		fail("version %q: %v", version, err)
	}
	c := sarama.NewConfig()
	c.Version = v
	c.ClientID = "weft-e2e-sarama"
	c.Metadata.Retry.Max = 10
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	return c
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: saramaold offsets|commit|group [flags]")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	broker := fs.String("b", "127.0.0.1:9092", "bootstrap address")
	version := fs.String("version", "0.10.0.0", "Kafka version sarama speaks")
	topic := fs.String("topic", "", "topic")
	partitions := fs.Int("partitions", 1, "partitions (offsets)")
	group := fs.String("group", "", "consumer group")
	partition := fs.Int("partition", 0, "partition (commit)")
	offset := fs.Int64("offset", 0, "offset to commit (commit)")
	count := fs.Int("count", 0, "records to consume (group)")
	topicConfig := fs.String("config", "", "KEY=VALUE topic config (create)")
	_ = fs.Parse(os.Args[2:])

	cfg := config(*version)
	client, err := sarama.NewClient([]string{*broker}, cfg)
	if err != nil {
		fail("connect: %v", err)
	}
	defer client.Close()

	switch mode {
	case "offsets":
		out := map[string][2]int64{}
		for p := 0; p < *partitions; p++ {
			oldest, err := client.GetOffset(*topic, int32(p), sarama.OffsetOldest)
			if err != nil {
				fail("earliest offset of %s-%d: %v", *topic, p, err)
			}
			newest, err := client.GetOffset(*topic, int32(p), sarama.OffsetNewest)
			if err != nil {
				fail("latest offset of %s-%d: %v", *topic, p, err)
			}
			out[fmt.Sprint(p)] = [2]int64{oldest, newest}
		}
		emit(out)
	case "commit":
		commitAndReadBack(client, *group, *topic, int32(*partition), *offset)
	case "group":
		consumeGroup(client, *group, *topic, *count)
	case "create", "describe", "delete":
		admin(client, mode, *topic, *partitions, *topicConfig)
	default:
		fail("unknown mode %q", mode)
	}
}

func commitAndReadBack(client sarama.Client, group, topic string, partition int32, offset int64) {
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		fail("offset manager: %v", err)
	}
	pom, err := om.ManagePartition(topic, partition)
	if err != nil {
		fail("manage %s-%d: %v", topic, partition, err)
	}
	pom.MarkOffset(offset, "sarama-old")
	om.Commit()
	// Without auto-commit the manager releases its partitions (closing their error channels) only in
	// Close, so the partition is closed asynchronously and its errors drained afterwards.
	pom.AsyncClose()
	if err := om.Close(); err != nil {
		fail("close offset manager: %v", err)
	}
	for e := range pom.Errors() {
		fail("commit: %v", e)
	}

	om2, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		fail("second offset manager: %v", err)
	}
	pom2, err := om2.ManagePartition(topic, partition)
	if err != nil {
		fail("manage %s-%d again: %v", topic, partition, err)
	}
	next, meta := pom2.NextOffset()
	pom2.AsyncClose()
	_ = om2.Close()
	emit(map[string]any{"committed": next, "metadata": meta})
}

type handler struct {
	mu     sync.Mutex
	seen   map[string]bool
	values []string
	want   int
	done   chan struct{}
	once   sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.mu.Lock()
			id := fmt.Sprintf("%d/%d", m.Partition, m.Offset)
			if !h.seen[id] {
				h.seen[id] = true
				h.values = append(h.values, string(m.Value))
			}
			n := len(h.seen)
			h.mu.Unlock()
			sess.MarkMessage(m, "")
			if n >= h.want {
				sess.Commit()
				h.once.Do(func() { close(h.done) })
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

func consumeGroup(client sarama.Client, group, topic string, count int) {
	cg, err := sarama.NewConsumerGroupFromClient(group, client)
	if err != nil {
		fail("consumer group: %v", err)
	}
	h := &handler{seen: map[string]bool{}, want: count, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		for e := range cg.Errors() {
			fmt.Fprintf(os.Stderr, "saramaold: group error: %v\n", e)
		}
	}()
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				errs <- err
				return
			}
		}
	}()
	select {
	case <-h.done:
	case err := <-errs:
		fail("consume: %v", err)
	case <-time.After(90 * time.Second):
		h.mu.Lock()
		n := len(h.seen)
		h.mu.Unlock()
		fail("consumed %d of %d records in 90 s", n, count)
	}
	cancel()
	if err := cg.Close(); err != nil {
		fail("close group: %v", err)
	}
	h.mu.Lock()
	values := append([]string(nil), h.values...)
	h.mu.Unlock()
	sort.Strings(values)
	emit(map[string]any{"values": values})
}

// admin runs one ClusterAdmin call; sarama picks the request version from the configured Kafka version.
func admin(client sarama.Client, mode, topic string, partitions int, topicConfig string) {
	ca, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		fail("cluster admin: %v", err)
	}
	switch mode {
	case "create":
		detail := &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1}
		if topicConfig != "" {
			key, value, ok := strings.Cut(topicConfig, "=")
			if !ok {
				fail("-config %q is not KEY=VALUE", topicConfig)
			}
			detail.ConfigEntries = map[string]*string{key: &value}
		}
		if err := ca.CreateTopic(topic, detail, false); err != nil {
			fail("create %s: %v", topic, err)
		}
		emit(map[string]any{"created": topic})
	case "describe":
		entries, err := ca.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			fail("describe %s: %v", topic, err)
		}
		out := map[string]any{}
		for _, e := range entries {
			out[e.Name] = map[string]any{"value": e.Value, "default": e.Default, "source": int(e.Source)}
		}
		emit(map[string]any{"configs": out})
	case "delete":
		if err := ca.DeleteTopic(topic); err != nil {
			fail("delete %s: %v", topic, err)
		}
		emit(map[string]any{"deleted": topic})
	}
}
