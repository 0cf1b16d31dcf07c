// Produces keyed records with kafka-clients' default producer config (idempotence on since 3.0) and
// reads them back, so the Rust tests can check Weft against the real Java client.
package weft;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Usage: {@code IdemClient produce BOOTSTRAP TOPIC COUNT} sends records key-i/value-i (keys over 1000
 * distinct values) and prints {@code acked N}; {@code IdemClient consume BOOTSTRAP TOPIC COUNT} reads
 * from the beginning of every partition until COUNT records arrived (or 120 s passed) and prints
 * {@code consumed N distinct D duplicates X out_of_order Y}, where out_of_order counts records whose
 * value index is not larger than the previous one of the same key (keys map to one partition, so
 * per-key order is per-partition order).
 */
public final class IdemClient {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: IdemClient produce|consume BOOTSTRAP TOPIC COUNT");
            System.exit(2);
        }
        int count = Integer.parseInt(args[3]);
        switch (args[0]) {
            case "produce" -> produce(args[1], args[2], count);
            case "consume" -> consume(args[1], args[2], count);
            case "produce-paced" -> producePaced(args[1], args[2], count);
            case "transactional" -> transactional(args[1], args[2]);
            default -> {
                System.err.println("unknown mode " + args[0]);
                System.exit(2);
            }
        }
    }

    private static void produce(String bootstrap, String topic, int count) throws Exception {
        Properties p = new Properties();
        // Only what a connection needs: everything else is the client's default (idempotence on).
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> pending = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                pending.add(producer.send(new ProducerRecord<>(topic, "key-" + (i % 1000), "value-" + i)));
            }
            producer.flush();
            int acked = 0;
            for (Future<RecordMetadata> f : pending) {
                f.get();
                acked++;
            }
            System.out.println("acked " + acked);
        }
    }

    /**
     * Like produce, but keeps at most 5,000 records unacknowledged and prints {@code progress N} after
     * every 1,000 acknowledgements, so a test can kill the broker while batches are in flight; ends
     * with {@code acked N failed F}.
     */
    private static void producePaced(String bootstrap, String topic, int count) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        java.util.concurrent.atomic.AtomicInteger acked = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                while (i - acked.get() - failed.get() > 5_000) {
                    Thread.sleep(1);
                }
                producer.send(new ProducerRecord<>(topic, "key-" + (i % 1000), "value-" + i), (md, e) -> {
                    if (e != null) {
                        failed.incrementAndGet();
                        System.err.println("send failed: " + e);
                    } else if (acked.incrementAndGet() % 1000 == 0) {
                        System.out.println("progress " + acked.get());
                        System.out.flush();
                    }
                });
            }
            producer.flush();
        }
        System.out.println("acked " + acked.get() + " failed " + failed.get());
    }

    /** initTransactions with a transactional.id; prints {@code refused: MESSAGE} or {@code initialized}. */
    private static void transactional(String bootstrap, String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            System.out.println("initialized");
        } catch (org.apache.kafka.common.KafkaException e) {
            System.out.println("refused: " + e.getMessage());
        }
    }

    private static void consume(String bootstrap, String topic, int count) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            List<TopicPartition> parts = new ArrayList<>();
            consumer.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(topic, pi.partition())));
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<String, Integer> lastByKey = new HashMap<>();
            boolean[] seen = new boolean[count];
            long consumed = 0, distinct = 0, duplicates = 0, outOfOrder = 0, foreign = 0;
            long deadline = System.currentTimeMillis() + 120_000;
            while (distinct < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    consumed++;
                    int i = Integer.parseInt(r.value().substring("value-".length()));
                    if (i < 0 || i >= count) {
                        foreign++;
                        continue;
                    }
                    if (seen[i]) {
                        duplicates++;
                    } else {
                        seen[i] = true;
                        distinct++;
                    }
                    Integer last = lastByKey.put(r.key(), i);
                    if (last != null && last >= i) {
                        outOfOrder++;
                    }
                }
            }
            // One more poll: duplicates stored after the last distinct record would show up here.
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(1000))) {
                consumed++;
                duplicates++;
            }
            System.out.println("consumed " + consumed + " distinct " + distinct + " duplicates " + duplicates
                    + " out_of_order " + outOfOrder + " foreign " + foreign);
        }
    }
}
