//! The embedded built-in plugins, each run through the real runtime against expected outputs.

mod common;

use common::{rec, runtime, values};
use weft_runtime::{
    builtin, Instance, LogLevel, MetricValue, PluginConfig, PluginKind, Record, Registry,
    RuntimeError,
};

fn instance(name: &str, config: &[(&str, &str)]) -> (Instance, common::Logs) {
    let (rt, logs) = runtime();
    let reg = Registry::new(rt);
    let plugin = reg.resolve(name).unwrap();
    let inst = plugin
        .instantiate(&PluginConfig::new(config.iter().copied()))
        .unwrap();
    (inst, logs)
}

fn json(records: &[Record]) -> Vec<serde_json::Value> {
    records
        .iter()
        .map(|r| serde_json::from_slice(r.value.as_deref().unwrap_or(b"null")).unwrap())
        .collect()
}

/// Kafka's murmur2, written independently of the plugin, checked against the Java client's
/// own test vectors below.
fn murmur2(data: &[u8]) -> i32 {
    let m: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let n4 = data.len() / 4;
    for i in 0..n4 {
        let i4 = i * 4;
        let mut k = (data[i4] as u32)
            | ((data[i4 + 1] as u32) << 8)
            | ((data[i4 + 2] as u32) << 16)
            | ((data[i4 + 3] as u32) << 24);
        k = k.wrapping_mul(m);
        k ^= k >> 24;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let tail = &data[n4 * 4..];
    match tail.len() {
        3 => {
            h ^= (tail[2] as u32) << 16;
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        2 => {
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        1 => {
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    h as i32
}

#[test]
fn every_builtin_loads_and_describes_itself_under_its_registry_name() {
    let (rt, _) = runtime();
    let reg = Registry::new(rt);
    let names: Vec<&str> = builtin::all().iter().map(|b| b.name).collect();
    for expected in [
        "default",
        "round-robin",
        "field",
        "string",
        "bytes",
        "json",
        "timestamp-prepend",
        "counter",
        "insert-field",
        "replace-field",
        "mask-field",
        "value-to-key",
        "extract-field",
        "regex-router",
        "timestamp-router",
        "filter",
        "drop-headers",
        "insert-header",
        "hoist-field",
        "cast",
        "flatten",
        "header-from",
        "timestamp-converter",
        "set-schema-metadata",
        "json-converter",
        "string-converter",
        "bytearray-converter",
    ] {
        assert!(names.contains(&expected), "missing built-in {expected}");
    }
    // Every connector crate of the top-level connectors/ workspace is embedded under its
    // directory name with the kind its Cargo.toml declares.
    let connectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../connectors");
    if connectors.join("Cargo.toml").is_file() {
        for entry in std::fs::read_dir(&connectors).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
                continue;
            };
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let kind = if manifest.contains("kind = \"source-connector\"") {
                "source-connector"
            } else {
                "sink-connector"
            };
            let b = builtin::find(&name).unwrap_or_else(|| panic!("connector {name} not embedded"));
            assert_eq!(b.kind, kind, "{name}");
        }
    }
    for b in builtin::all() {
        let p = reg.resolve(b.name).unwrap();
        assert_eq!(p.metadata().name, b.name);
        assert_eq!(p.kind().as_str(), b.kind);
        // Only the network connectors import a capability, each the one its name says.
        let granted: Vec<&str> = p.capabilities().iter().map(|(_, key)| *key).collect();
        let expected: &[&str] = match b.name {
            "mqtt-source" | "mqtt-sink" => &["capability.mqtt.urls"],
            "http-sink" => &["capability.http.urls"],
            "mirror" => &[
                "capability.local-admin",
                "capability.remote-cluster.bootstrap.servers",
            ],
            _ => &[],
        };
        assert_eq!(granted, expected, "capabilities imported by {}", b.name);
    }
    assert_eq!(reg.list().len(), builtin::all().len());
    assert!(matches!(
        reg.resolve("nope"),
        Err(RuntimeError::NotFound(_))
    ));
}

#[test]
fn default_partitioner_matches_the_java_murmur2_vectors_and_sticks_keyless_records() {
    // From the Java client's UtilsTest.testMurmur2.
    let vectors: [(&str, i32); 5] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
    ];
    for (k, h) in vectors {
        assert_eq!(murmur2(k.as_bytes()), h, "{k}");
    }
    let (mut p, _) = instance("default", &[]);
    let keys: Vec<String> = (0..2000).map(|i| format!("key-{i}")).collect();
    let records: Vec<Record> = keys.iter().map(|k| rec("t", Some(k), "v")).collect();
    for n in [1u32, 3, 6, 100] {
        let got = p.partition(n, &records).unwrap();
        for (k, part) in keys.iter().zip(got) {
            let want = ((murmur2(k.as_bytes()) & 0x7fff_ffff) as u32) % n;
            assert_eq!(part, want, "key {k} with {n} partitions");
        }
    }
    let keyless: Vec<Record> = (0..10).map(|_| rec("t", None, "v")).collect();
    let a = p.partition(4, &keyless).unwrap();
    let b = p.partition(4, &keyless).unwrap();
    assert!(
        a.iter().all(|x| *x == a[0]),
        "one partition per batch: {a:?}"
    );
    assert!(b.iter().all(|x| *x == b[0]));
    assert_ne!(a[0], b[0], "the next batch moves on");
}

#[test]
fn round_robin_and_field_partitioners() {
    let (mut rr, _) = instance("round-robin", &[]);
    let rs: Vec<Record> = (0..5)
        .map(|i| rec("t", Some("same"), &i.to_string()))
        .collect();
    assert_eq!(rr.partition(3, &rs).unwrap(), [0, 1, 2, 0, 1]);

    let (mut f, _) = instance("field", &[("field", "user")]);
    let rs = vec![
        rec("t", Some("a"), r#"{"user":"alice","n":1}"#),
        rec("t", Some("b"), r#"{"user":"alice","n":2}"#),
        rec("t", Some("c"), r#"{"user":"bob"}"#),
    ];
    let got = f.partition(16, &rs).unwrap();
    assert_eq!(
        got[0], got[1],
        "same field, same partition whatever the key"
    );
    assert_eq!(got[0], ((murmur2(b"alice") & 0x7fff_ffff) as u32) % 16);
    assert_eq!(got[2], ((murmur2(b"bob") & 0x7fff_ffff) as u32) % 16);

    // A required key missing is a configure-time error naming it.
    let (rt, _) = runtime();
    let err = Registry::new(rt)
        .resolve("field")
        .unwrap()
        .instantiate(&PluginConfig::default())
        .unwrap_err();
    assert!(err.to_string().contains("`field` is required"), "{err}");
}

#[test]
fn string_bytes_and_json_serializers() {
    let (mut s, _) = instance("string", &[]);
    let ok = s.serialize(&[rec("t", Some("k"), "héllo")]).unwrap();
    assert_eq!(values(&ok), ["héllo"]);
    let mut bad = Record::new("t", vec![0xff, 0xfe]);
    bad.key = None;
    let err = s.serialize(&[bad.clone()]).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Plugin { retriable: false, message, .. } if message.contains("value is not UTF-8")),
        "{err}"
    );
    assert_eq!(
        values(&s.deserialize(&[bad.clone()]).unwrap()),
        ["\u{fffd}\u{fffd}"]
    );

    let (mut b, _) = instance("bytes", &[]);
    assert_eq!(b.serialize(&[bad.clone()]).unwrap()[0].value, bad.value);
    assert_eq!(
        b.deserialize(&[bad]).unwrap()[0].value,
        Some(vec![0xff, 0xfe])
    );

    let (mut j, _) = instance("json", &[]);
    let out = j.serialize(&[rec("t", None, "{ \"a\" : 1 }")]).unwrap();
    assert_eq!(values(&out), [r#"{"a":1}"#]);
    assert!(j.serialize(&[rec("t", None, "{nope")]).is_err());
    let mut tomb = rec("t", Some("k"), "");
    tomb.value = None;
    assert_eq!(j.serialize(&[tomb]).unwrap()[0].value, None);

    let (mut js, _) = instance("json", &[("schemas.enable", "true")]);
    let out = js
        .serialize(&[rec("t", None, r#"{"id":7,"name":"x"}"#)])
        .unwrap();
    assert_eq!(
        json(&out)[0],
        serde_json::json!({
            "schema": {"type": "struct", "optional": false, "fields": [
                {"field": "id", "type": "int64", "optional": false},
                {"field": "name", "type": "string", "optional": false},
            ]},
            "payload": {"id": 7, "name": "x"}
        })
    );
    let back = js.deserialize(&out).unwrap();
    assert_eq!(values(&back), [r#"{"id":7,"name":"x"}"#]);
    assert!(js.deserialize(&[rec("t", None, "{}")]).is_err());
}

#[test]
fn timestamp_prepend_and_counter_interceptors() {
    let (mut tp, _) = instance("timestamp-prepend", &[]);
    let mut r = rec("t", None, "hello");
    r.timestamp = Some(1_700_000_000_123);
    let out = tp.on_send(&[r.clone()]).unwrap();
    assert_eq!(values(&out), ["1700000000123,hello"]);
    assert_eq!(values(&tp.on_consume(&[r]).unwrap()), ["hello"]);

    let (mut c, logs) = instance("counter", &[]);
    let rs: Vec<Record> = (0..3).map(|i| rec("t", None, &i.to_string())).collect();
    assert_eq!(c.on_send(&rs).unwrap().len(), 3);
    c.on_acknowledgement(&rs, &[(1, "broker down".into())])
        .unwrap();
    c.on_commit(&[("t".into(), 0, 3)]).unwrap();
    let metrics = c.metrics();
    {
        let m = metrics.lock().unwrap();
        assert_eq!(m.get("sent"), Some(&MetricValue::Counter(3)));
        assert_eq!(m.get("acked"), Some(&MetricValue::Counter(2)));
        assert_eq!(m.get("failed"), Some(&MetricValue::Counter(1)));
    }
    c.close().unwrap();
    let logs = logs.lock().unwrap();
    assert!(
        logs.iter().any(|(p, l, m)| p == "counter@0.1.0"
            && *l == LogLevel::Info
            && m == "counter: sent=3 acked=2 failed=1 consumed=0 commits=1"),
        "{logs:?}"
    );
}

#[test]
fn field_transforms_rewrite_json_values() {
    let mut r = rec(
        "orders",
        Some("k"),
        r#"{"id":1,"ssn":"123","card":4111,"vip":true}"#,
    );
    r.partition = Some(2);
    r.offset = Some(42);
    r.timestamp = Some(5);

    let (mut t, _) = instance(
        "insert-field",
        &[
            ("topic.field", "src"),
            ("offset.field", "off"),
            ("static.field", "dc"),
            ("static.value", "eu"),
        ],
    );
    assert_eq!(
        json(&common::transform(&mut t, &[r.clone()]).unwrap())[0],
        serde_json::json!({"id":1,"ssn":"123","card":4111,"vip":true,"src":"orders","off":42,"dc":"eu"})
    );

    let (mut t, _) = instance(
        "replace-field",
        &[("exclude", "ssn"), ("renames", "id:order_id,vip:gold")],
    );
    assert_eq!(
        json(&common::transform(&mut t, &[r.clone()]).unwrap())[0],
        serde_json::json!({"order_id":1,"card":4111,"gold":true})
    );
    let (mut t, _) = instance(
        "replace-field",
        &[("include", "id,ssn"), ("exclude", "ssn")],
    );
    assert_eq!(
        json(&common::transform(&mut t, &[r.clone()]).unwrap())[0],
        serde_json::json!({"id":1})
    );

    let (mut t, _) = instance("mask-field", &[("fields", "ssn,card,vip")]);
    assert_eq!(
        json(&common::transform(&mut t, &[r.clone()]).unwrap())[0],
        serde_json::json!({"id":1,"ssn":"","card":0,"vip":false})
    );
    let (mut t, _) = instance("mask-field", &[("fields", "ssn"), ("replacement", "***")]);
    assert_eq!(
        json(&common::transform(&mut t, &[r.clone()]).unwrap())[0]["ssn"],
        "***"
    );

    // Members keep their order and text; a field the object has is replaced where it is.
    let mut o = rec(
        "orders",
        None,
        r#"{"z":{"a" : [1, "}"]},"src":"old","m\u0073n":"9","n":1.5,"l":[2]}"#,
    );
    o.offset = Some(7);
    let (mut t, _) = instance(
        "insert-field",
        &[("topic.field", "src"), ("offset.field", "off")],
    );
    let out = common::transform(&mut t, &[o.clone()]).unwrap();
    assert_eq!(
        std::str::from_utf8(out[0].value.as_deref().unwrap()).unwrap(),
        r#"{"z":{"a" : [1, "}"]},"src":"orders","m\u0073n":"9","n":1.5,"l":[2],"off":7}"#
    );
    let (mut t, _) = instance("mask-field", &[("fields", "msn,n,l,z")]);
    let out = common::transform(&mut t, &[o.clone()]).unwrap();
    assert_eq!(
        std::str::from_utf8(out[0].value.as_deref().unwrap()).unwrap(),
        r#"{"z":{},"src":"old","m\u0073n":"","n":0,"l":[]}"#
    );
    let (mut t, _) = instance("mask-field", &[("fields", "n"), ("replacement", "x")]);
    let err = common::transform(&mut t, &[o.clone()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("replacement `x` is not a number"), "{err}");
    let (mut t, _) = instance("mask-field", &[("fields", "n,src"), ("replacement", "-2")]);
    let out = common::transform(&mut t, &[o.clone()]).unwrap();
    assert_eq!(json(&out)[0]["n"], -2);
    assert_eq!(json(&out)[0]["src"], "-2");
    // New fields go after the last member and only changed values are rewritten: the rest of
    // the text, whitespace included, stays as written; a record without a masked field is
    // passed on as it came.
    let (mut t, _) = instance(
        "insert-field",
        &[
            ("static.field", "dc"),
            ("static.value", "eu"),
            ("offset.field", "o"),
        ],
    );
    let mut spaced = [
        rec("orders", None, " { \"a\" : 1 ,\n \"b\":[ 2 ] } "),
        rec("orders", None, "{}"),
        rec("orders", None, " {\t} "),
        rec("orders", None, r#"{"a":1,"a":2}"#),
    ];
    for (i, r) in spaced.iter_mut().enumerate() {
        r.offset = Some(i as i64);
    }
    let out = common::transform(&mut t, &spaced).unwrap();
    assert_eq!(
        values(&out),
        [
            " { \"a\" : 1 ,\n \"b\":[ 2 ],\"o\":0,\"dc\":\"eu\" } ",
            r#"{"o":1,"dc":"eu"}"#,
            " {\"o\":2,\"dc\":\"eu\"\t} ",
            r#"{"a":1,"a":2,"o":3,"dc":"eu"}"#,
        ]
    );
    // Two inserts of one name: the later kind wins (Kafka puts each into a map in turn),
    // whether the object already has the name or not.
    let (mut t, _) = instance(
        "insert-field",
        &[
            ("topic.field", "x"),
            ("offset.field", "x"),
            ("static.field", "s"),
            ("static.value", "eu"),
        ],
    );
    let mut both = [
        rec("orders", None, r#"{"a":1}"#),
        rec("orders", None, r#"{"x":0,"a":1}"#),
    ];
    both.iter_mut().for_each(|r| r.offset = Some(7));
    assert_eq!(
        values(&common::transform(&mut t, &both).unwrap()),
        [r#"{"a":1,"x":7,"s":"eu"}"#, r#"{"x":7,"a":1,"s":"eu"}"#]
    );
    let (mut t, _) = instance("mask-field", &[("fields", "a,c")]);
    let out = common::transform(&mut t, &spaced).unwrap();
    assert_eq!(
        values(&out),
        [
            " { \"a\" : 0 ,\n \"b\":[ 2 ] } ",
            "{}",
            " {\t} ",
            r#"{"a":0,"a":0}"#
        ]
    );
    let (mut t, _) = instance("mask-field", &[("fields", "c")]);
    let out = common::transform(&mut t, &spaced).unwrap();
    assert_eq!(
        out.iter().map(|r| &r.value).collect::<Vec<_>>(),
        spaced.iter().map(|r| &r.value).collect::<Vec<_>>()
    );

    let (mut t, _) = instance(
        "insert-field",
        &[("static.field", "dc"), ("static.value", "eu")],
    );
    for bad in [r#"[1]"#, r#"{"a":1"#, r#"{"a":1} {}"#] {
        let err = common::transform(&mut t, &[rec("orders", None, bad)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs a JSON object"), "{bad}: {err}");
    }

    let (mut t, _) = instance("value-to-key", &[("fields", "id,vip")]);
    let out = common::transform(&mut t, &[r.clone()]).unwrap();
    assert_eq!(out[0].key.as_deref(), Some(&br#"{"id":1,"vip":true}"#[..]));
    assert_eq!(out[0].value, r.value);

    let (mut t, _) = instance("extract-field", &[("field", "ssn")]);
    assert_eq!(
        values(&common::transform(&mut t, &[r.clone()]).unwrap()),
        ["123"]
    );
    let (mut t, _) = instance("extract-field", &[("field", "card")]);
    assert_eq!(
        values(&common::transform(&mut t, &[r.clone()]).unwrap()),
        ["4111"]
    );

    // A non-JSON value fails that record only (fatal, not a trap); the others go through.
    let out = t
        .transform(
            &[rec("t", None, "plain"), r.clone()],
            &weft_runtime::Schemas::default(),
        )
        .unwrap();
    assert_eq!(values(&out.records), ["4111"]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].index, 0);
    assert!(!out.failures[0].retriable);
    assert!(
        out.failures[0].message.contains("JSON object"),
        "{:?}",
        out.failures
    );
    assert_eq!(t.restarts(), 0);
}

#[test]
fn routing_filtering_and_header_transforms() {
    let (mut t, _) = instance(
        "regex-router",
        &[("regex", "orders-(.*)"), ("replacement", "archive.$1")],
    );
    let out = common::transform(
        &mut t,
        &[
            rec("orders-eu", None, "a"),
            rec("payments", None, "b"),
            rec("xorders-eu", None, "c"),
        ],
    )
    .unwrap();
    let topics: Vec<&str> = out.iter().map(|r| r.topic.as_str()).collect();
    assert_eq!(topics, ["archive.eu", "payments", "xorders-eu"]);

    let (mut t, _) = instance("timestamp-router", &[]);
    let mut r = rec("logs", None, "x");
    r.timestamp = Some(1_700_000_000_000); // 2023-11-14T22:13:20Z
    assert_eq!(
        common::transform(&mut t, &[r.clone()]).unwrap()[0].topic,
        "logs-20231114"
    );
    let (mut t, _) = instance(
        "timestamp-router",
        &[
            ("topic.format", "${timestamp}_${topic}"),
            ("timestamp.format", "yyyy-MM-dd'T'HH:mm:ss"),
        ],
    );
    assert_eq!(
        common::transform(&mut t, &[r]).unwrap()[0].topic,
        "2023-11-14'T'22:13:20_logs"
    );

    let mut tomb = rec("t", Some("k"), "");
    tomb.value = None;
    let mut tagged = rec("t", None, "tagged");
    tagged.headers.push(weft_runtime::Header {
        key: "skip".into(),
        value: None,
    });
    let batch = vec![
        rec("t", None, "keep"),
        tomb,
        tagged,
        rec("audit", None, "aud"),
    ];

    let (mut t, _) = instance("filter", &[("predicate", "is-tombstone")]);
    assert_eq!(
        values(&common::transform(&mut t, &batch).unwrap()),
        ["keep", "tagged", "aud"]
    );
    let (mut t, _) = instance("filter", &[("predicate", "has-header"), ("header", "skip")]);
    assert_eq!(
        values(&common::transform(&mut t, &batch).unwrap()),
        ["keep", "<null>", "aud"]
    );
    let (mut t, _) = instance(
        "filter",
        &[
            ("predicate", "topic-matches"),
            ("pattern", "aud.*"),
            ("negate", "true"),
        ],
    );
    assert_eq!(values(&common::transform(&mut t, &batch).unwrap()), ["aud"]);

    let (mut t, _) = instance(
        "insert-header",
        &[("header", "source"), ("value.literal", "weft")],
    );
    let out = common::transform(&mut t, &batch).unwrap();
    assert!(out.iter().all(|r| r
        .headers
        .last()
        .map(|h| (h.key.as_str(), h.value.as_deref()))
        == Some(("source", Some(&b"weft"[..])))));
    let (mut d, _) = instance("drop-headers", &[("headers", "source,skip")]);
    assert!(common::transform(&mut d, &out)
        .unwrap()
        .iter()
        .all(|r| r.headers.is_empty()));
}

#[test]
fn produce_and_consume_pipelines_chain_plugins_in_order() {
    let (rt, logs) = runtime();
    let reg = Registry::new(rt);
    let spec = weft_runtime::PipelineSpec {
        partitioner: Some("default".into()),
        serializer: Some("json".into()),
        interceptors: vec!["counter".into()],
        transforms: vec!["mask-field".into(), "regex-router".into()],
        config: PluginConfig::parse_pairs(&[
            "mask-field.fields=ssn",
            // Unscoped keys reach every plugin: mask-field also reads `replacement`, so the
            // router's keys are scoped to it.
            "regex-router.regex=(.*)",
            "regex-router.replacement=$1.masked",
            "schemas.enable=false",
        ])
        .unwrap(),
    };
    let mut produce = weft_runtime::ProducePipeline::new(&reg, &spec).unwrap();
    assert!(produce.has_partitioner());
    let input = vec![
        rec("users", Some("alice"), r#"{"name":"alice","ssn":"1"}"#),
        rec("users", Some("bob"), r#"{"name":"bob","ssn":"2"}"#),
    ];
    let out = produce
        .process(input, |t| (t == "users.masked").then_some(6))
        .unwrap();
    assert_eq!(
        values(&out),
        [r#"{"name":"alice","ssn":""}"#, r#"{"name":"bob","ssn":""}"#]
    );
    assert!(out
        .iter()
        .all(|r| r.topic == "users.masked" && r.timestamp.is_some()));
    assert_eq!(
        out[0].partition,
        Some((murmur2(b"alice") & 0x7fff_ffff) % 6)
    );
    assert_eq!(out[1].partition, Some((murmur2(b"bob") & 0x7fff_ffff) % 6));
    produce.acknowledge(&out, &[]).unwrap();
    // A partition chosen by the producer wins over the partitioner, as in Kafka.
    let mut pinned = rec("users", Some("alice"), "{}");
    pinned.partition = Some(5);
    let kept = produce.process(vec![pinned], |_| Some(6)).unwrap();
    assert_eq!(kept[0].partition, Some(5));
    assert!(matches!(
        produce.process(vec![rec("users", None, "{}")], |_| None),
        Err(RuntimeError::UnknownTopic(t)) if t == "users.masked"
    ));
    produce.close().unwrap();

    let consume_spec = weft_runtime::PipelineSpec {
        serializer: Some("json".into()),
        interceptors: vec!["counter".into()],
        transforms: vec!["extract-field".into()],
        config: PluginConfig::parse_pairs(&["field=name"]).unwrap(),
        ..Default::default()
    };
    let mut consume = weft_runtime::ConsumePipeline::new(&reg, &consume_spec).unwrap();
    let got = consume.process(out).unwrap();
    assert_eq!(values(&got), ["alice", "bob"]);
    consume.committed(&[("users.masked".into(), 0, 2)]).unwrap();
    consume.close().unwrap();
    let logs = logs.lock().unwrap();
    let lines: Vec<&str> = logs.iter().map(|(_, _, m)| m.as_str()).collect();
    // Four sent: the pinned record, and, as in the Java producer where on-send runs before
    // partitioning, the record for the unknown topic too.
    assert!(
        lines.contains(&"counter: sent=4 acked=2 failed=0 consumed=0 commits=0"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"counter: sent=0 acked=0 failed=0 consumed=2 commits=1"),
        "{lines:?}"
    );

    // A plugin of the wrong kind is refused by name.
    let wrong = weft_runtime::PipelineSpec {
        serializer: Some("filter".into()),
        ..Default::default()
    };
    let err = weft_runtime::ProducePipeline::new(&reg, &wrong)
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            RuntimeError::WrongKind {
                expected: "serializer",
                ..
            }
        ),
        "{err}"
    );
    let _ = PluginKind::Transform;
}

fn key_of(r: &Record) -> serde_json::Value {
    serde_json::from_slice(r.key.as_deref().unwrap_or(b"null")).unwrap()
}

fn transformed(
    name: &str,
    config: &[(&str, &str)],
    records: &[Record],
    schemas: &weft_runtime::Schemas,
) -> weft_runtime::Output {
    let (mut t, _) = instance(name, config);
    let out = t.transform(records, schemas).unwrap();
    assert!(out.failures.is_empty(), "{name}: {:?}", out.failures);
    out
}

fn value_schema(s: &str) -> weft_runtime::Schemas {
    weft_runtime::Schemas {
        key: None,
        value: Some(s.to_string()),
    }
}

fn schema_json(s: &weft_runtime::Schemas) -> serde_json::Value {
    serde_json::from_str(s.value.as_deref().unwrap()).unwrap()
}

#[test]
fn field_transforms_act_on_the_key_with_target_key() {
    let mut r = rec(
        "t",
        Some(r#"{"id":1,"ssn":"123","n":{"a":2}}"#),
        r#"{"v":1}"#,
    );
    r.partition = Some(3);
    let none = weft_runtime::Schemas::default();
    let key = |name: &str, config: &[(&str, &str)]| {
        let mut config = config.to_vec();
        config.push(("target", "key"));
        let out = transformed(name, &config, std::slice::from_ref(&r), &none);
        // The value is left alone.
        assert_eq!(json(&out.records)[0], serde_json::json!({"v": 1}), "{name}");
        key_of(&out.records[0])
    };
    assert_eq!(
        key("insert-field", &[("partition.field", "p")]),
        serde_json::json!({"id": 1, "ssn": "123", "n": {"a": 2}, "p": 3})
    );
    assert_eq!(
        key("mask-field", &[("fields", "ssn")]),
        serde_json::json!({"id": 1, "ssn": "", "n": {"a": 2}})
    );
    assert_eq!(
        key("replace-field", &[("exclude", "ssn,n")]),
        serde_json::json!({"id": 1})
    );
    assert_eq!(
        key("extract-field", &[("field", "id")]),
        serde_json::json!(1)
    );
    assert_eq!(
        key("hoist-field", &[("field", "k")]),
        serde_json::json!({"k": {"id": 1, "ssn": "123", "n": {"a": 2}}})
    );
    assert_eq!(
        key("flatten", &[("delimiter", "_")]),
        serde_json::json!({"id": 1, "ssn": "123", "n_a": 2})
    );
    assert_eq!(
        key("cast", &[("spec", "id:string,ssn:int32")]),
        serde_json::json!({"id": "1", "ssn": 123, "n": {"a": 2}})
    );
    let (rt, _) = runtime();
    let err = Registry::new(rt)
        .resolve("insert-field")
        .unwrap()
        .instantiate(&PluginConfig::new([("target", "nope")]))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("config `target` = `nope` is not key or value"),
        "{err}"
    );
}

#[test]
fn hoist_cast_flatten_and_header_from_follow_kafkas_smts_and_update_schemas() {
    // hoist-field wraps a string value and its schema.
    let out = transformed(
        "hoist-field",
        &[("field", "line")],
        &[rec("t", None, "hello")],
        &value_schema(r#"{"type":"string","optional":false}"#),
    );
    assert_eq!(json(&out.records)[0], serde_json::json!({"line": "hello"}));
    assert_eq!(
        schema_json(&out.schemas),
        serde_json::json!({"type": "struct", "optional": false,
            "fields": [{"type": "string", "optional": false, "field": "line"}]})
    );

    // cast: fields of a struct, with the schema's types changed; and a whole value.
    let user = r#"{"type":"struct","optional":false,"fields":[{"type":"string","optional":false,"field":"age"},{"type":"double","optional":true,"field":"score"}]}"#;
    let out = transformed(
        "cast",
        &[("spec", "age:int32,score:int64")],
        &[rec("t", None, r#"{"age":"42","score":9.7}"#)],
        &value_schema(user),
    );
    assert_eq!(
        json(&out.records)[0],
        serde_json::json!({"age": 42, "score": 9})
    );
    let fields = &schema_json(&out.schemas)["fields"];
    assert_eq!(fields[0]["type"], "int32");
    assert_eq!(fields[1]["type"], "int64");
    assert_eq!(fields[1]["optional"], true);
    let out = transformed(
        "cast",
        &[("spec", "int64")],
        &[rec("t", None, "17")],
        &value_schema(r#"{"type":"string","optional":false}"#),
    );
    assert_eq!(values(&out.records), ["17"]);
    assert_eq!(
        schema_json(&out.schemas),
        serde_json::json!({"type": "int64", "optional": false})
    );
    let (mut bad, _) = instance("cast", &[("spec", "x:int8")]);
    let failed = bad
        .transform(
            &[rec("t", None, r#"{"x":300}"#)],
            &weft_runtime::Schemas::default(),
        )
        .unwrap();
    assert_eq!(failed.failures.len(), 1);

    // flatten: nested objects and the struct schema, a nested optional making its fields optional.
    let nested = r#"{"type":"struct","optional":false,"fields":[{"type":"int32","optional":false,"field":"id"},{"type":"struct","optional":true,"field":"addr","fields":[{"type":"string","optional":false,"field":"city"}]}]}"#;
    let out = transformed(
        "flatten",
        &[],
        &[rec("t", None, r#"{"id":1,"addr":{"city":"Oslo"}}"#)],
        &value_schema(nested),
    );
    assert_eq!(
        json(&out.records)[0],
        serde_json::json!({"id": 1, "addr.city": "Oslo"})
    );
    assert_eq!(
        schema_json(&out.schemas)["fields"],
        serde_json::json!([
            {"type": "int32", "optional": false, "field": "id"},
            {"type": "string", "optional": true, "field": "addr.city"}
        ])
    );

    // header-from: move drops the fields (value and schema); copy keeps them.
    let out = transformed(
        "header-from",
        &[
            ("fields", "id,addr"),
            ("headers", "h-id,h-addr"),
            ("operation", "move"),
        ],
        &[rec(
            "t",
            None,
            r#"{"id":1,"addr":{"city":"Oslo"},"x":true}"#,
        )],
        &value_schema(nested),
    );
    assert_eq!(json(&out.records)[0], serde_json::json!({"x": true}));
    let headers: Vec<(&str, Option<&[u8]>)> = out.records[0]
        .headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_deref()))
        .collect();
    assert_eq!(
        headers,
        [
            ("h-id", Some(&b"1"[..])),
            ("h-addr", Some(&br#"{"city":"Oslo"}"#[..]))
        ]
    );
    assert_eq!(schema_json(&out.schemas)["fields"], serde_json::json!([]));
    let out = transformed(
        "header-from",
        &[("fields", "id"), ("headers", "h"), ("operation", "copy")],
        &[rec("t", None, r#"{"id":"a"}"#)],
        &weft_runtime::Schemas::default(),
    );
    assert_eq!(json(&out.records)[0], serde_json::json!({"id": "a"}));
    assert_eq!(out.records[0].headers[0].value.as_deref(), Some(&b"a"[..]));

    // insert-field, replace-field and extract-field change a struct schema as Kafka's do.
    let out = transformed(
        "insert-field",
        &[("topic.field", "topic!"), ("timestamp.field", "ts")],
        &[rec("t", None, r#"{"id":1}"#)],
        &value_schema(
            r#"{"type":"struct","optional":false,"fields":[{"type":"int32","optional":false,"field":"id"}]}"#,
        ),
    );
    assert_eq!(json(&out.records)[0]["topic"], "t");
    let fields = schema_json(&out.schemas)["fields"].clone();
    assert_eq!(
        fields[1],
        serde_json::json!({"type": "string", "optional": false, "field": "topic"})
    );
    assert_eq!(fields[2]["name"], "org.apache.kafka.connect.data.Timestamp");
    assert_eq!(fields[2]["optional"], true);
    let out = transformed(
        "replace-field",
        &[("renames", "id:key")],
        &[rec("t", None, r#"{"id":1,"addr":{"city":"Oslo"}}"#)],
        &value_schema(nested),
    );
    assert_eq!(schema_json(&out.schemas)["fields"][0]["field"], "key");
    let out = transformed(
        "extract-field",
        &[("field", "addr")],
        &[rec("t", None, r#"{"id":1,"addr":{"city":"Oslo"}}"#)],
        &value_schema(nested),
    );
    assert_eq!(
        schema_json(&out.schemas),
        serde_json::json!({"type": "struct", "optional": true,
            "fields": [{"type": "string", "optional": false, "field": "city"}]})
    );
}

#[test]
fn timestamp_converter_and_set_schema_metadata_follow_kafkas_smts() {
    // A Timestamp field of a struct becomes a formatted string, its schema retyped.
    let ts = "org.apache.kafka.connect.data.Timestamp";
    let event = format!(
        r#"{{"type":"struct","optional":false,"name":"ev","fields":[{{"type":"string","optional":false,"field":"id"}},{{"type":"int64","optional":false,"name":"{ts}","version":1,"field":"at"}}]}}"#
    );
    let out = transformed(
        "timestamp-converter",
        &[
            ("field", "at"),
            ("target.type", "string"),
            ("format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
        ],
        &[rec("t", None, r#"{"id":"a","at":1709622489012}"#)],
        &value_schema(&event),
    );
    assert_eq!(
        json(&out.records)[0],
        serde_json::json!({"id": "a", "at": "2024-03-05T07:08:09.012Z"})
    );
    let schema = schema_json(&out.schemas);
    assert_eq!(schema["name"], "ev");
    assert_eq!(
        schema["fields"][1],
        serde_json::json!({"type": "string", "optional": false, "field": "at"})
    );

    // The whole key, a string, becomes a Connect Date (days since the epoch); the value is untouched.
    let mut r = rec("t", Some("2024-03-05"), "v");
    r.partition = Some(0);
    let string = r#"{"type":"string","optional":false}"#.to_string();
    let (mut t, _) = instance(
        "timestamp-converter",
        &[
            ("target", "key"),
            ("target.type", "Date"),
            ("format", "yyyy-MM-dd"),
        ],
    );
    let out = t
        .transform(
            &[r],
            &weft_runtime::Schemas {
                key: Some(string.clone()),
                value: Some(string),
            },
        )
        .unwrap();
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(out.records[0].key.as_deref(), Some(&b"19787"[..]));
    assert_eq!(values(&out.records), ["v"]);
    let key_schema: serde_json::Value =
        serde_json::from_str(out.schemas.key.as_deref().unwrap()).unwrap();
    assert_eq!(key_schema["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(key_schema["type"], "int32");

    // Schemaless: unix seconds in a map field; a value that does not match fails alone.
    let none = weft_runtime::Schemas::default();
    let (mut t, _) = instance(
        "timestamp-converter",
        &[
            ("field", "d"),
            ("target.type", "unix"),
            ("unix.precision", "seconds"),
            ("format", "yyyy-MM-dd HH:mm"),
        ],
    );
    let out = t
        .transform(
            &[
                rec("t", None, r#"{"d":"2024-03-05 07:08"}"#),
                rec("t", None, r#"{"d":"05.03.2024"}"#),
            ],
            &none,
        )
        .unwrap();
    assert_eq!(json(&out.records), [serde_json::json!({"d": 1709622480})]);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].index, 1);
    assert!(
        out.failures[0]
            .message
            .contains("does not match pattern (yyyy-MM-dd HH:mm)"),
        "{:?}",
        out.failures[0]
    );

    // An unsupported pattern letter is a config error naming it.
    let (rt, _) = runtime();
    let err = Registry::new(rt)
        .resolve("timestamp-converter")
        .unwrap()
        .instantiate(&PluginConfig::new([
            ("target.type", "string"),
            ("format", "EEE, dd MMM yyyy"),
        ]))
        .unwrap_err();
    assert!(err.to_string().contains("pattern letter `E`"), "{err}");

    // set-schema-metadata renames and versions the value schema; a null field takes its default.
    let out = transformed(
        "set-schema-metadata",
        &[
            ("schema.name", "com.example.Event"),
            ("schema.version", "4"),
        ],
        &[rec("t", None, r#"{"n":null}"#)],
        &value_schema(
            r#"{"type":"struct","optional":false,"name":"old","fields":[{"type":"int32","optional":true,"default":7,"field":"n"}]}"#,
        ),
    );
    let schema = schema_json(&out.schemas);
    assert_eq!(
        (&schema["name"], &schema["version"]),
        (
            &serde_json::json!("com.example.Event"),
            &serde_json::json!(4)
        )
    );
    assert_eq!(json(&out.records), [serde_json::json!({"n": 7})]);
    // Without a schema a record fails, as Kafka's requireSchema.
    let (mut t, _) = instance("set-schema-metadata", &[("schema.name", "x")]);
    let out = t.transform(&[rec("t", None, "{}")], &none).unwrap();
    assert_eq!(out.failures.len(), 1);
    assert!(out.failures[0]
        .message
        .contains("Schema required for [updating schema metadata]"));
}
