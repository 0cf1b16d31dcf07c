//! `weft plugin new|build|test|inspect|list`, and the plugin options and helpers that
//! `weft produce` and `weft consume` use to run records through plugin pipelines.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use weft_runtime::{
    ConsumePipeline, Header, LoadedPlugin, PipelineSpec, PluginConfig, PluginKind, ProducePipeline,
    Record, Registry, Runtime,
};

#[derive(Args, Debug)]
pub struct PluginArgs {
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Create a plugin crate that builds as-is.
    New(NewArgs),
    /// Build a plugin crate for wasm32-wasip2 (release) and check the result loads.
    Build(BuildArgs),
    /// Run a partitioner, serializer, interceptor or transform on sample records, no broker.
    Test(TestArgs),
    /// Print a plugin's world, metadata, config definitions, imports and exports.
    Inspect(InspectArgs),
    /// List the built-in plugins and those in the plugin directory.
    List(ListArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    Partitioner,
    Serializer,
    Interceptor,
    Transform,
    Source,
    Sink,
    Converter,
}

#[derive(Args, Debug)]
pub struct NewArgs {
    /// Plugin kind.
    #[arg(long)]
    pub kind: Kind,
    /// Plugin name; also the crate's directory.
    pub name: String,
    /// Directory to create the crate in (default: current directory).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Path to the weft-plugin-sdk crate (default: the SDK of the Weft source tree weft was built from).
    #[arg(long, env = "WEFT_PLUGIN_SDK")]
    pub sdk: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The plugin crate (directory with Cargo.toml).
    #[arg(default_value = ".")]
    pub path: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TestOp {
    /// serializer: serialize (produce side).
    Serialize,
    /// serializer: deserialize (consume side).
    Deserialize,
    /// interceptor: on-send, then on-acknowledgement with success.
    OnSend,
    /// interceptor: on-consume.
    OnConsume,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// Plugin: a .wasm path or a registry name.
    pub plugin: String,
    /// Records as JSON lines: {"topic","key","value","headers":{..},"partition","timestamp","offset"};
    /// a non-string value is used as its JSON text. `-` reads stdin.
    #[arg(long, short = 'i')]
    pub input: PathBuf,
    /// Plugin config, `key=value` (repeatable).
    #[arg(long = "plugin-config", short = 'c', value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// Partition count given to a partitioner.
    #[arg(long, default_value_t = 6)]
    pub partitions: u32,
    /// Which export to call for serializers and interceptors.
    #[arg(long, value_enum)]
    pub op: Option<TestOp>,
    #[command(flatten)]
    pub dirs: PluginDirArgs,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Plugin: a .wasm path or a registry name.
    pub plugin: String,
    #[command(flatten)]
    pub dirs: PluginDirArgs,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub dirs: PluginDirArgs,
}

/// Where external plugins are looked up by name.
#[derive(Args, Debug, Clone)]
pub struct PluginDirArgs {
    /// Directory of .wasm plugins, searched after the built-ins (default: ~/.weft/plugins).
    #[arg(long, env = "WEFT_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
}

impl PluginDirArgs {
    fn registry(&self) -> anyhow::Result<Registry> {
        let runtime = Runtime::new().context("starting the plugin runtime")?;
        let mut reg = Registry::new(runtime);
        let dir = self.plugin_dir.clone().or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".weft").join("plugins"))
        });
        if let Some(d) = dir {
            reg = reg.with_plugin_dir(d);
        }
        Ok(reg)
    }
}

/// Plugin options of `weft produce` (its `--partitioner` chooses librdkafka's or a plugin).
#[derive(Args, Debug, Clone, Default)]
pub struct ProducePluginArgs {
    /// Serializer plugin (name or .wasm path) applied to keys/values before sending.
    #[arg(long)]
    pub serializer: Option<String>,
    /// Producer interceptor plugin, in order (repeatable).
    #[arg(long = "interceptor")]
    pub interceptors: Vec<String>,
    /// Transform plugin, in order (repeatable).
    #[arg(long = "transform")]
    pub transforms: Vec<String>,
    /// Plugin config `key=value`; `NAME.key=value` applies to plugin NAME only (repeatable).
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    pub plugin_config: Vec<String>,
    /// Directory of .wasm plugins, searched after the built-ins.
    #[arg(long, env = "WEFT_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
}

/// Plugin options of `weft consume`.
#[derive(Args, Debug, Clone, Default)]
pub struct ConsumePluginArgs {
    /// Deserializer plugin (a serializer's consume side) applied to consumed records.
    #[arg(long)]
    pub deserializer: Option<String>,
    /// Consumer interceptor plugin, in order (repeatable).
    #[arg(long = "interceptor")]
    pub interceptors: Vec<String>,
    /// Transform plugin applied to consumed records, in order (repeatable).
    #[arg(long = "transform")]
    pub transforms: Vec<String>,
    /// Plugin config `key=value`; `NAME.key=value` applies to plugin NAME only (repeatable).
    #[arg(long = "plugin-config", value_name = "KEY=VALUE")]
    pub plugin_config: Vec<String>,
    /// Directory of .wasm plugins, searched after the built-ins.
    #[arg(long, env = "WEFT_PLUGIN_DIR")]
    pub plugin_dir: Option<PathBuf>,
}

/// librdkafka's own partitioners; any other `--partitioner` value names a Weft plugin.
pub const LIBRDKAFKA_PARTITIONERS: [&str; 7] = [
    "random",
    "consistent",
    "consistent_random",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
];

/// True when `--partitioner` names one of librdkafka's built-in partitioners.
pub fn is_librdkafka_partitioner(name: &str) -> bool {
    LIBRDKAFKA_PARTITIONERS.contains(&name)
}

fn registry_for(dir: &Option<PathBuf>) -> anyhow::Result<Registry> {
    PluginDirArgs {
        plugin_dir: dir.clone(),
    }
    .registry()
}

/// The produce pipeline for these options, or `None` when no plugin is involved (then produce
/// sends lines exactly as before). `partitioner` is produce's `--partitioner` value.
pub fn produce_pipeline(
    args: &ProducePluginArgs,
    partitioner: &str,
) -> anyhow::Result<Option<ProducePipeline>> {
    let spec = PipelineSpec {
        partitioner: (!is_librdkafka_partitioner(partitioner)).then(|| partitioner.to_string()),
        serializer: args.serializer.clone(),
        interceptors: args.interceptors.clone(),
        transforms: args.transforms.clone(),
        config: PluginConfig::parse_pairs(&args.plugin_config)?,
    };
    if spec.is_empty() {
        return Ok(None);
    }
    let reg = registry_for(&args.plugin_dir)?;
    Ok(Some(ProducePipeline::new(&reg, &spec)?))
}

/// The consume pipeline for these options, or `None` when no plugin is involved.
pub fn consume_pipeline(args: &ConsumePluginArgs) -> anyhow::Result<Option<ConsumePipeline>> {
    let spec = PipelineSpec {
        partitioner: None,
        serializer: args.deserializer.clone(),
        interceptors: args.interceptors.clone(),
        transforms: args.transforms.clone(),
        config: PluginConfig::parse_pairs(&args.plugin_config)?,
    };
    if spec.is_empty() {
        return Ok(None);
    }
    let reg = registry_for(&args.plugin_dir)?;
    Ok(Some(ConsumePipeline::new(&reg, &spec)?))
}

/// Reads one line (blocking), then every further complete line already buffered, up to `max`:
/// piped input is processed in batches while an interactive user's line goes out at once.
pub fn read_batch(reader: &mut impl BufRead, max: usize) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut line = String::new();
    while lines.len() < max {
        if !lines.is_empty() && !reader.fill_buf()?.contains(&b'\n') {
            break;
        }
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        lines.push(std::mem::take(&mut line));
    }
    Ok(lines)
}

/// Partition counts per topic, fetched from cluster metadata once per topic.
pub struct PartitionCounts<'c, C: rdkafka::ClientContext> {
    client: &'c rdkafka::client::Client<C>,
    cache: HashMap<String, Option<u32>>,
}

impl<'c, C: rdkafka::ClientContext> PartitionCounts<'c, C> {
    /// Looks counts up through `client` (e.g. `producer.client()`).
    pub fn new(client: &'c rdkafka::client::Client<C>) -> Self {
        PartitionCounts {
            client,
            cache: HashMap::new(),
        }
    }

    /// The partition count of `topic` (`None` if it does not exist), cached per topic.
    pub fn count(&mut self, topic: &str) -> Option<u32> {
        if let Some(n) = self.cache.get(topic) {
            return *n;
        }
        let n = self
            .client
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == topic && t.error().is_none())
                    .map(|t| t.partitions().len() as u32)
            })
            .filter(|n| *n > 0);
        self.cache.insert(topic.to_string(), n);
        n
    }
}

/// A consumed message as a runtime record.
pub fn record_from_message(m: &impl rdkafka::message::Message) -> Record {
    use rdkafka::message::Headers;
    Record {
        topic: m.topic().to_string(),
        partition: Some(m.partition()),
        timestamp: m.timestamp().to_millis(),
        offset: Some(m.offset()),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers: m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| Header {
                        key: h.key.to_string(),
                        value: h.value.map(<[u8]>::to_vec),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub fn run(args: PluginArgs) -> anyhow::Result<()> {
    match args.command {
        PluginCommand::New(a) => new(a),
        PluginCommand::Build(a) => build(a).map(|_| ()),
        PluginCommand::Test(a) => test(a),
        PluginCommand::Inspect(a) => inspect(a),
        PluginCommand::List(a) => list(a),
    }
}

fn default_sdk() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk");
    p.join("Cargo.toml")
        .is_file()
        .then(|| p.canonicalize().unwrap_or(p))
}

fn new(a: NewArgs) -> anyhow::Result<()> {
    if a.name.is_empty()
        || !a
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        bail!(
            "plugin name '{}' must be lowercase letters, digits and '-'",
            a.name
        );
    }
    let sdk = match a.sdk.or_else(default_sdk) {
        Some(s) => s,
        None => bail!("cannot find weft-plugin-sdk: pass --sdk PATH (or set WEFT_PLUGIN_SDK)"),
    };
    let dir = a.path.join(&a.name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let sdk = sdk.display().to_string().replace('\\', "/");
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
weft-plugin-sdk = {{ path = "{sdk}" }}

# Its own workspace, so that it builds wherever it is created.
[workspace]

[profile.release]
panic = "abort"
codegen-units = 1
strip = true
"#,
        name = a.name
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    std::fs::create_dir_all(dir.join(".cargo"))?;
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "# wasm SIMD: wasmtime supports it, and byte loops get markedly faster.\n\
         [target.wasm32-wasip2]\nrustflags = [\"-C\", \"target-feature=+simd128\"]\n",
    )?;
    std::fs::write(dir.join("src/lib.rs"), template(a.kind, &a.name))?;
    eprintln!(
        "Created {} plugin `{}` in {}\nNext: weft plugin build {}",
        kind_name(a.kind),
        a.name,
        dir.display(),
        dir.display()
    );
    Ok(())
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Partitioner => "partitioner",
        Kind::Serializer => "serializer",
        Kind::Interceptor => "interceptor",
        Kind::Transform => "transform",
        Kind::Source => "source-connector",
        Kind::Sink => "sink-connector",
        Kind::Converter => "converter",
    }
}

fn template(kind: Kind, name: &str) -> String {
    let ty: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let (kind_variant, body) = match kind {
        Kind::Partitioner => (
            "Partitioner",
            r#"impl Partitioner for NAME {
    fn partition(&mut self, record: &Record<'_>, partitions: u32) -> Result<u32> {
        // Records with the same key go to the same partition; keyless ones to partition 0.
        let key = record.key().unwrap_or_default();
        let hash = key.iter().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(*b as u32));
        Ok(hash % partitions)
    }
}

export_partitioner!(NAME);"#,
        ),
        Kind::Serializer => (
            "Serializer",
            r#"impl Serializer for NAME {
    fn serialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>> {
        Ok(record)
    }

    fn deserialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>> {
        Ok(record)
    }
}

export_serializer!(NAME);"#,
        ),
        Kind::Interceptor => (
            "Interceptor",
            r#"impl Interceptor for NAME {
    fn on_send<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        log::counter_add("sent", 1);
        Ok(Some(record))
    }

    fn on_acknowledgement(&mut self, _record: &Record<'_>, error: Option<&str>) {
        if let Some(e) = error {
            log::warn(&format!("send failed: {e}"));
        }
    }
}

export_interceptor!(NAME);"#,
        ),
        Kind::Transform => (
            "Transform",
            r#"impl Transform for NAME {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        if let Some(v) = record.value() {
            let upper = v.to_ascii_uppercase();
            record.set_value(upper);
        }
        Ok(Some(record))
    }
}

export_transform!(NAME);"#,
        ),
        Kind::Source => (
            "SourceConnector",
            r#"impl SourceConnector for NAME {
    fn open(&mut self, _config: &Config, _committed: Vec<SourcePosition>) -> Result<()> {
        Ok(())
    }

    fn poll(&mut self) -> Result<Polled> {
        let mut polled = Polled::new();
        polled.push(Record::new("NAME-topic", b"hello".to_vec()));
        Ok(polled)
    }
}

export_source_connector!(NAME);"#,
        ),
        Kind::Sink => (
            "SinkConnector",
            r#"impl SinkConnector for NAME {
    fn open(&mut self, _config: &Config) -> Result<()> {
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>], _schemas: &Schemas) -> Result<Vec<RecordFailure>> {
        log::info(&format!("received {} records", records.len()));
        Ok(Vec::new())
    }
}

export_sink_connector!(NAME);"#,
        ),
        Kind::Converter => (
            "Converter",
            r#"impl Converter for NAME {
    fn from_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
        _schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        Ok(value.map(<[u8]>::to_vec))
    }

    fn to_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<String>)> {
        Ok((value.map(<[u8]>::to_vec), None))
    }
}

export_converter!(NAME);"#,
        ),
    };
    format!(
        r#"//! `{name}`: a Weft {kind} plugin.

use weft_plugin_sdk::*;

#[derive(Default)]
struct NAME;

impl Plugin for NAME {{
    fn metadata() -> Metadata {{
        Metadata::new("{name}", env!("CARGO_PKG_VERSION"), PluginKind::{kind_variant}, "TODO: describe")
    }}
}}

{body}
"#,
        kind = kind_name(kind),
    )
    .replace("NAME-topic", &format!("{name}-topic"))
    .replace("NAME", &ty)
}

/// The `name` in a Cargo.toml's `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_package = t == "[package]";
        } else if in_package {
            if let Some(rest) = t.strip_prefix("name") {
                let v = rest
                    .trim_start()
                    .strip_prefix('=')?
                    .trim()
                    .trim_matches('"');
                return Some(v.to_string());
            }
        }
    }
    None
}

fn build(mut a: BuildArgs) -> anyhow::Result<PathBuf> {
    // Absolute, because cargo runs from the crate directory below.
    a.path = a
        .path
        .canonicalize()
        .with_context(|| format!("no plugin crate at {}", a.path.display()))?;
    let manifest_path = a.path.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let name = package_name(&manifest)
        .with_context(|| format!("no [package] name in {}", manifest_path.display()))?;
    let target = a.path.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // From the crate's directory, so that its .cargo/config.toml (simd128) applies.
    let status = Command::new(cargo)
        .current_dir(&a.path)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest_path)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .context("running cargo (is Rust installed?)")?;
    if !status.success() {
        bail!("cargo build failed (missing target? run `rustup target add wasm32-wasip2`)");
    }
    let wasm = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    if !wasm.is_file() {
        bail!("cargo did not produce {}", wasm.display());
    }
    let runtime = Runtime::new()?;
    let plugin = runtime.load_file(&wasm)?;
    println!("{}", wasm.display());
    eprintln!(
        "Built {} plugin {} ({} bytes)",
        plugin.kind().as_str(),
        plugin.id(),
        std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0)
    );
    Ok(wasm)
}

fn json_bytes(v: Option<&serde_json::Value>) -> Option<Vec<u8>> {
    match v? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

fn record_from_json(line_no: usize, line: &str) -> anyhow::Result<Record> {
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("input line {line_no} is not JSON"))?;
    let obj = v
        .as_object()
        .with_context(|| format!("input line {line_no} is not a JSON object"))?;
    let int = |k: &str| obj.get(k).and_then(serde_json::Value::as_i64);
    let headers = match obj.get("headers") {
        Some(serde_json::Value::Object(h)) => h
            .iter()
            .map(|(k, v)| Header {
                key: k.clone(),
                value: json_bytes(Some(v)),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Record {
        topic: obj
            .get("topic")
            .and_then(|t| t.as_str())
            .unwrap_or("test")
            .to_string(),
        partition: int("partition").map(|p| p as i32),
        timestamp: int("timestamp"),
        offset: int("offset"),
        key: json_bytes(obj.get("key")),
        value: json_bytes(obj.get("value")),
        headers,
    })
}

fn text(b: &Option<Vec<u8>>) -> serde_json::Value {
    match b {
        None => serde_json::Value::Null,
        Some(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
    }
}

fn record_to_json(r: &Record) -> serde_json::Value {
    let headers: serde_json::Map<String, serde_json::Value> = r
        .headers
        .iter()
        .map(|h| (h.key.clone(), text(&h.value)))
        .collect();
    serde_json::json!({
        "topic": r.topic,
        "partition": r.partition,
        "timestamp": r.timestamp,
        "offset": r.offset,
        "key": text(&r.key),
        "value": text(&r.value),
        "headers": headers,
    })
}

fn test(a: TestArgs) -> anyhow::Result<()> {
    let input: Box<dyn BufRead> = if a.input == Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&a.input)
                .with_context(|| format!("opening {}", a.input.display()))?,
        ))
    };
    let mut records = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line.context("reading input")?;
        if !line.trim().is_empty() {
            records.push(record_from_json(i + 1, &line)?);
        }
    }
    let n_in = records.len();
    let reg = a.dirs.registry()?;
    let plugin = reg.resolve(&a.plugin)?;
    let mut inst = plugin.instantiate(&PluginConfig::parse_pairs(&a.config)?)?;
    let out = match (plugin.kind(), a.op) {
        (PluginKind::Partitioner, _) => {
            let parts = inst.partition(a.partitions, &records)?;
            for (r, p) in records.iter_mut().zip(parts) {
                r.partition = Some(p as i32);
            }
            records
        }
        (PluginKind::Transform, _) => {
            let out = inst.transform(&records, &Default::default())?;
            // Without a dead-letter queue a failed record is reported, not dropped silently.
            if let Some(f) = out.failures.first() {
                bail!(
                    "{} failed on input record {}: {}",
                    plugin.id(),
                    f.index + 1,
                    f.message
                );
            }
            out.records
        }
        (PluginKind::Serializer, Some(TestOp::Deserialize)) => inst.deserialize(&records)?,
        (PluginKind::Serializer, _) => inst.serialize(&records)?,
        (PluginKind::Interceptor, Some(TestOp::OnConsume)) => inst.on_consume(&records)?,
        (PluginKind::Interceptor, _) => {
            let sent = inst.on_send(&records)?;
            inst.on_acknowledgement(&sent, &[])?;
            sent
        }
        (k, _) => bail!(
            "`weft plugin test` runs partitioners, serializers, interceptors and transforms, not {}",
            k.as_str()
        ),
    };
    inst.close()?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for r in &out {
        writeln!(w, "{}", record_to_json(r))?;
    }
    eprintln!("{n_in} records in, {} out", out.len());
    Ok(())
}

fn describe(p: &LoadedPlugin) -> String {
    let m = p.metadata();
    let mut s = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(s, "plugin:      {}", p.id());
    let _ = writeln!(s, "world:       weft:plugin/{}", p.kind().as_str());
    let _ = writeln!(s, "description: {}", m.description);
    let _ = writeln!(s, "source:      {}", p.source().label());
    let _ = writeln!(s, "sha256:      {}", p.hash_hex());
    if m.config.is_empty() {
        let _ = writeln!(s, "config:      (none)");
    } else {
        let _ = writeln!(s, "config:");
        for d in &m.config {
            let _ = writeln!(
                s,
                "  {:<20} {:<8} {:<9} default={:<12} {}",
                d.name,
                d.ty,
                if d.required { "required" } else { "optional" },
                d.default.as_deref().unwrap_or("-"),
                d.doc
            );
        }
    }
    let caps = p.capabilities();
    if !caps.is_empty() {
        let _ = writeln!(s, "capabilities:");
        for (iface, key) in caps {
            let _ = writeln!(s, "  {iface} (grant with {key})");
        }
    }
    let _ = writeln!(s, "imports:");
    for i in p.imports() {
        let _ = writeln!(s, "  {i}");
    }
    let _ = writeln!(s, "exports:");
    for e in p.exports() {
        let _ = writeln!(s, "  {e}");
    }
    s
}

fn inspect(a: InspectArgs) -> anyhow::Result<()> {
    let reg = a.dirs.registry()?;
    let p = reg.resolve(&a.plugin)?;
    print!("{}", describe(&p));
    Ok(())
}

fn list(a: ListArgs) -> anyhow::Result<()> {
    let reg = a.dirs.registry()?;
    println!("{:<18} {:<12} {:<10} SOURCE", "NAME", "KIND", "VERSION");
    for info in reg.list() {
        println!(
            "{:<18} {:<12} {:<10} {}{}",
            info.name,
            info.kind,
            info.version.as_deref().unwrap_or(env!("CARGO_PKG_VERSION")),
            info.source,
            if info.description.is_empty() {
                String::new()
            } else {
                format!("  ({})", info.description)
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_batch_takes_buffered_lines_only() {
        let mut r = std::io::BufReader::new(&b"a\nb\r\nc"[..]);
        assert_eq!(read_batch(&mut r, 2).unwrap(), ["a", "b"]);
        assert_eq!(read_batch(&mut r, 10).unwrap(), ["c"]);
        assert!(read_batch(&mut r, 10).unwrap().is_empty());
    }

    #[test]
    fn package_name_and_json_records() {
        assert_eq!(
            package_name("[lib]\nname = \"x\"\n[package]\nname = \"my-p\"\n").as_deref(),
            Some("my-p")
        );
        let r = record_from_json(
            1,
            r#"{"topic":"t","key":"k","value":{"a":1},"headers":{"h":"v"}}"#,
        )
        .unwrap();
        assert_eq!(r.value.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(r.headers[0].key, "h");
        assert_eq!(record_to_json(&r)["key"], "k");
        assert!(record_from_json(2, "[1]").is_err());
        assert!(is_librdkafka_partitioner("murmur2_random"));
        assert!(!is_librdkafka_partitioner("round-robin"));
    }
}
