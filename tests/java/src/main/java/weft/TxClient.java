// Transactional producers and read_committed consumers of kafka-clients, driven by
// tests/e2e_transactions.rs against the real Weft binary. Every mode prints plain lines the Rust test
// parses; any client exception ends the JVM with a non-zero status and the stack trace on stderr.
package weft;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Modes (P = partitions of the topic):
 * <ul>
 * <li>{@code commit-abort BOOTSTRAP TOPIC TXID TRANSACTIONS P}: transaction t sends 10 records
 * {@code t<t>-r<i>} round-robin over the partitions; even t commit, odd t abort; then one committed
 * transaction with {@code sentinel-<p>} in every partition. Prints {@code done}.</li>
 * <li>{@code read BOOTSTRAP TOPIC read_committed|read_uncommitted P}: reads every partition from the
 * start until each partition's sentinel arrived; prints {@code value <v>} per record.</li>
 * <li>{@code read-to-end BOOTSTRAP TOPIC read_committed|read_uncommitted}: reads every partition up to
 * the end offsets the consumer reports at that isolation level (the LSO for read_committed); prints
 * {@code value <v>} per record and {@code end <total>}.</li>
 * <li>{@code hang BOOTSTRAP TOPIC TXID TIMEOUT_MS}: opens a transaction, sends 5 records
 * {@code open-<i>} to partition 0, flushes, prints {@code open} and waits to be killed.</li>
 * <li>{@code fence BOOTSTRAP TOPIC TXID}: producer A opens a transaction and sends; producer B with the
 * same transactional.id initialises, sends {@code fresh} and commits; A then tries to commit. Prints
 * {@code fenced <exception class>} or {@code not-fenced}.</li>
 * <li>{@code ctp BOOTSTRAP IN OUT GROUP TXID}: consume-transform-produce: each polled batch is written
 * to OUT as {@code out-<value>} and its offsets committed with sendOffsetsToTransaction in one
 * transaction. Prints {@code progress <n>} after each commit and exits with {@code caught-up} once
 * its position equals IN's end offsets.</li>
 * <li>{@code commit-rate BOOTSTRAP TOPIC TXID TRANSACTIONS}: TRANSACTIONS transactions of 100 records;
 * prints {@code commits_per_s <x>}.</li>
 * </ul>
 */
public final class TxClient {
    public static void main(String[] args) throws Exception {
        switch (args.length == 0 ? "" : args[0]) {
            case "commit-abort" -> commitAbort(args[1], args[2], args[3], Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            case "read" -> read(args[1], args[2], args[3], Integer.parseInt(args[4]));
            case "read-to-end" -> readToEnd(args[1], args[2], args[3]);
            case "hang" -> hang(args[1], args[2], args[3], Integer.parseInt(args[4]));
            case "fence" -> fence(args[1], args[2], args[3]);
            case "ctp" -> ctp(args[1], args[2], args[3], args[4], args[5]);
            case "commit-rate" -> commitRate(args[1], args[2], args[3], Integer.parseInt(args[4]));
            default -> {
                System.err.println("usage: TxClient commit-abort|read|read-to-end|hang|fence|ctp|commit-rate ...");
                System.exit(2);
            }
        }
    }

    static KafkaProducer<String, String> producer(String bootstrap, String txid, int timeoutMs) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txid);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, timeoutMs);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String bootstrap, String isolation, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    static void commitAbort(String bootstrap, String topic, String txid, int transactions, int partitions) {
        try (KafkaProducer<String, String> producer = producer(bootstrap, txid, 60000)) {
            producer.initTransactions();
            int seq = 0;
            for (int t = 0; t < transactions; t++) {
                producer.beginTransaction();
                for (int i = 0; i < 10; i++) {
                    producer.send(new ProducerRecord<>(topic, seq++ % partitions, null, "t" + t + "-r" + i));
                }
                if (t % 2 == 0) {
                    producer.commitTransaction();
                } else {
                    producer.flush();
                    producer.abortTransaction();
                }
            }
            producer.beginTransaction();
            for (int p = 0; p < partitions; p++) {
                producer.send(new ProducerRecord<>(topic, p, null, "sentinel-" + p));
            }
            producer.commitTransaction();
        }
        System.out.println("done");
    }

    static List<TopicPartition> partitionsOf(KafkaConsumer<String, String> c, String topic) {
        List<TopicPartition> tps = new ArrayList<>();
        for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30))) {
            tps.add(new TopicPartition(topic, pi.partition()));
        }
        return tps;
    }

    static void read(String bootstrap, String topic, String isolation, int partitions) {
        try (KafkaConsumer<String, String> c = consumer(bootstrap, isolation, null)) {
            c.assign(partitionsOf(c, topic));
            c.seekToBeginning(c.assignment());
            int sentinels = 0;
            long deadline = System.currentTimeMillis() + 120_000;
            while (sentinels < partitions) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("saw " + sentinels + " of " + partitions + " sentinels in 120 s");
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    System.out.println("value " + r.value());
                    if (r.value().startsWith("sentinel-")) {
                        sentinels++;
                    }
                }
            }
        }
    }

    static void readToEnd(String bootstrap, String topic, String isolation) {
        try (KafkaConsumer<String, String> c = consumer(bootstrap, isolation, null)) {
            List<TopicPartition> tps = partitionsOf(c, topic);
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long total = 0;
            long deadline = System.currentTimeMillis() + 120_000;
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("did not reach " + end + " in 120 s");
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    System.out.println("value " + r.value());
                    total++;
                }
            }
            System.out.println("end " + total);
        }
    }

    static void hang(String bootstrap, String topic, String txid, int timeoutMs) throws Exception {
        KafkaProducer<String, String> producer = producer(bootstrap, txid, timeoutMs);
        producer.initTransactions();
        producer.beginTransaction();
        for (int i = 0; i < 5; i++) {
            producer.send(new ProducerRecord<>(topic, 0, null, "open-" + i));
        }
        producer.flush();
        System.out.println("open");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static void fence(String bootstrap, String topic, String txid) {
        KafkaProducer<String, String> a = producer(bootstrap, txid, 60000);
        a.initTransactions();
        a.beginTransaction();
        a.send(new ProducerRecord<>(topic, 0, null, "zombie"));
        a.flush();
        try (KafkaProducer<String, String> b = producer(bootstrap, txid, 60000)) {
            b.initTransactions();
            b.beginTransaction();
            b.send(new ProducerRecord<>(topic, 0, null, "fresh"));
            b.commitTransaction();
        }
        String outcome = "not-fenced";
        try {
            // EndTxn with the old epoch. (A further send would be refused by the partition's KIP-890
            // verification as InvalidProducerEpochException, abortable, as Kafka answers it.)
            a.commitTransaction();
        } catch (ProducerFencedException e) {
            outcome = "fenced " + e.getClass().getName();
        } catch (KafkaException e) {
            Throwable cause = e;
            while (cause != null && !(cause instanceof ProducerFencedException)) {
                cause = cause.getCause();
            }
            outcome = cause != null ? "fenced " + cause.getClass().getName()
                    : "other " + e.getClass().getName() + ": " + e.getMessage();
        } finally {
            a.close(Duration.ZERO);
        }
        System.out.println(outcome);
    }

    static void ctp(String bootstrap, String in, String out, String group, String txid) {
        try (KafkaConsumer<String, String> consumer = consumer(bootstrap, "read_committed", group);
                KafkaProducer<String, String> producer = producer(bootstrap, txid, 10000)) {
            producer.initTransactions();
            consumer.subscribe(List.of(in));
            long processed = 0;
            long deadline = System.currentTimeMillis() + 300_000;
            while (System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    producer.beginTransaction();
                    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                    for (ConsumerRecord<String, String> r : records) {
                        producer.send(new ProducerRecord<>(out, r.partition(), r.key(), "out-" + r.value()));
                        offsets.put(new TopicPartition(r.topic(), r.partition()),
                                new OffsetAndMetadata(r.offset() + 1));
                    }
                    producer.sendOffsetsToTransaction(offsets, consumer.groupMetadata());
                    producer.commitTransaction();
                    processed += records.count();
                    System.out.println("progress " + processed);
                    System.out.flush();
                }
                if (!consumer.assignment().isEmpty()) {
                    Map<TopicPartition, Long> end = consumer.endOffsets(consumer.assignment());
                    boolean caughtUp = end.entrySet().stream()
                            .allMatch(e -> consumer.position(e.getKey()) >= e.getValue());
                    int all = consumer.partitionsFor(in).size();
                    if (caughtUp && consumer.assignment().size() == all && records.isEmpty()) {
                        System.out.println("caught-up");
                        return;
                    }
                }
            }
            throw new IllegalStateException("not caught up in 300 s");
        }
    }

    static void commitRate(String bootstrap, String topic, String txid, int transactions) {
        try (KafkaProducer<String, String> producer = producer(bootstrap, txid, 60000)) {
            producer.initTransactions();
            long start = System.nanoTime();
            for (int t = 0; t < transactions; t++) {
                producer.beginTransaction();
                for (int i = 0; i < 100; i++) {
                    producer.send(new ProducerRecord<>(topic, "k" + i, "t" + t + "-" + i));
                }
                producer.commitTransaction();
            }
            double secs = (System.nanoTime() - start) / 1e9;
            System.out.printf("commits_per_s %.1f%n", transactions / secs);
        }
    }
}
