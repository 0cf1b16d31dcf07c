//! The record codecs of Kafka's v2 batches, used directly and always streaming: a decompressing reader
//! that never allocates more than a caller-given budget (so a decompression bomb costs at most that
//! much memory and CPU), and a compressing writer for rebuilt batches.
//!
//! Framing, as Kafka writes it: gzip is a gzip stream (members may be concatenated, as Java's
//! `GZIPInputStream` reads them); lz4 is an LZ4 frame; zstd is one or more zstd frames; snappy is
//! xerial's block framing (16-byte header `\x82SNAPPY\0`, version, compatible version, then blocks of
//! `u32 length | raw snappy block`), or a single raw snappy block when the header is absent (xerial's
//! fallback, which librdkafka and kafka-protocol also accept).

use std::io::{self, Read, Write};

use kafka_protocol::records::Compression;

use crate::error::{LogError, Result};

/// zstd frames may ask the decoder for a window of up to 2 GiB; Kafka's producers use far less (level 3
/// uses at most 8 MiB). 2^24 = 16 MiB bounds the decoder's own allocation.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;
const SNAPPY_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const SNAPPY_HEADER_LEN: usize = 16;
/// xerial's block size; also what Kafka's producer uses.
const SNAPPY_BLOCK: usize = 32 * 1024;
/// Kafka's lz4 level for batches it writes.
const LZ4_LEVEL: u32 = 4;
const ZSTD_LEVEL: i32 = 3;

fn corrupt(msg: impl Into<String>) -> LogError {
    LogError::CorruptBatch(msg.into())
}

/// A streaming reader over the decompressed records section of a batch.
pub(crate) type Inflater<'a> = Box<dyn Read + 'a>;

/// Opens a decompressing reader over `data` (the records section of a batch compressed with `codec`).
/// `budget` bounds what the snappy decoder allocates up front for one block; every other codec
/// allocates only its fixed window, and the caller bounds the bytes it reads.
pub(crate) fn inflater(codec: Compression, data: &[u8], budget: u64) -> Result<Inflater<'_>> {
    let open_err = |e: io::Error| corrupt(format!("cannot open {codec:?} records: {e}"));
    Ok(match codec {
        Compression::None => Box::new(data),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(data)),
        Compression::Lz4 => Box::new(lz4::Decoder::new(data).map_err(open_err)?),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(data).map_err(open_err)?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(open_err)?;
            Box::new(d)
        }
        Compression::Snappy => Box::new(SnappyReader::new(data, budget)?),
    })
}

/// Reads xerial-framed (or raw) snappy, one block at a time, refusing any block whose declared
/// uncompressed size exceeds what is left of the budget before allocating it.
struct SnappyReader<'a> {
    data: &'a [u8],
    /// The rest is a sequence of xerial blocks; otherwise `data` is one raw block.
    framed: bool,
    block: Vec<u8>,
    block_pos: usize,
    budget: u64,
}

impl<'a> SnappyReader<'a> {
    fn new(data: &'a [u8], budget: u64) -> Result<SnappyReader<'a>> {
        if data.is_empty() {
            return Err(corrupt("empty snappy records section"));
        }
        let framed = data.len() >= SNAPPY_HEADER_LEN && data.starts_with(SNAPPY_MAGIC);
        Ok(SnappyReader {
            data: if framed {
                &data[SNAPPY_HEADER_LEN..]
            } else {
                data
            },
            framed,
            block: Vec::new(),
            block_pos: 0,
            budget,
        })
    }

    /// Decodes the next block into `self.block`; false at the end of the input.
    fn next_block(&mut self) -> io::Result<bool> {
        let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
        if self.data.is_empty() {
            return Ok(false);
        }
        let compressed = if self.framed {
            let (len, rest) = self
                .data
                .split_first_chunk::<4>()
                .ok_or_else(|| bad("snappy stream ends inside a block length".into()))?;
            let len = u32::from_be_bytes(*len) as usize;
            if rest.len() < len {
                return Err(bad(format!(
                    "snappy block of {len} bytes runs past the batch"
                )));
            }
            let (block, rest) = rest.split_at(len);
            self.data = rest;
            block
        } else {
            std::mem::take(&mut self.data)
        };
        let size = snap::raw::decompress_len(compressed)
            .map_err(|e| bad(format!("bad snappy block header: {e}")))?;
        if size as u64 > self.budget {
            return Err(bad(format!(
                "snappy block inflates to {size} bytes, more than the {} left for this batch",
                self.budget
            )));
        }
        self.budget -= size as u64;
        self.block.clear();
        self.block.resize(size, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|e| bad(format!("bad snappy block: {e}")))?;
        self.block_pos = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.block_pos == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.block.len() - self.block_pos);
        buf[..n].copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
        self.block_pos += n;
        Ok(n)
    }
}

/// Streaming compressor for the records section of a rebuilt batch.
pub(crate) enum Deflater {
    None(Vec<u8>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Snappy { out: Vec<u8>, pending: Vec<u8> },
    Lz4(lz4::Encoder<Vec<u8>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Deflater {
    pub(crate) fn new(codec: Compression) -> Result<Deflater> {
        let err = |e: io::Error| corrupt(format!("cannot start {codec:?} compression: {e}"));
        Ok(match codec {
            Compression::None => Deflater::None(Vec::new()),
            Compression::Gzip => Deflater::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::default(),
            )),
            Compression::Snappy => {
                let mut out = Vec::new();
                out.extend_from_slice(SNAPPY_MAGIC);
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                Deflater::Snappy {
                    out,
                    pending: Vec::with_capacity(SNAPPY_BLOCK),
                }
            }
            Compression::Lz4 => Deflater::Lz4(
                lz4::EncoderBuilder::new()
                    .level(LZ4_LEVEL)
                    .block_mode(lz4::BlockMode::Independent)
                    .build(Vec::new())
                    .map_err(err)?,
            ),
            Compression::Zstd => Deflater::Zstd(
                zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL).map_err(err)?,
            ),
        })
    }

    pub(crate) fn write(&mut self, raw: &[u8]) -> Result<()> {
        let err = |e: io::Error| corrupt(format!("cannot compress records: {e}"));
        match self {
            Deflater::None(out) => {
                out.extend_from_slice(raw);
                Ok(())
            }
            Deflater::Gzip(e) => e.write_all(raw).map_err(err),
            Deflater::Lz4(e) => e.write_all(raw).map_err(err),
            Deflater::Zstd(e) => e.write_all(raw).map_err(err),
            Deflater::Snappy { out, pending } => {
                let mut raw = raw;
                while !raw.is_empty() {
                    let n = raw.len().min(SNAPPY_BLOCK - pending.len());
                    pending.extend_from_slice(&raw[..n]);
                    raw = &raw[n..];
                    if pending.len() == SNAPPY_BLOCK {
                        snappy_block(out, pending)?;
                    }
                }
                Ok(())
            }
        }
    }

    /// The compressed records section.
    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        let err = |e: io::Error| corrupt(format!("cannot compress records: {e}"));
        match self {
            Deflater::None(out) => Ok(out),
            Deflater::Gzip(e) => e.finish().map_err(err),
            Deflater::Lz4(e) => {
                let (out, r) = e.finish();
                r.map_err(err)?;
                Ok(out)
            }
            Deflater::Zstd(e) => e.finish().map_err(err),
            Deflater::Snappy {
                mut out,
                mut pending,
            } => {
                if !pending.is_empty() {
                    snappy_block(&mut out, &mut pending)?;
                }
                Ok(out)
            }
        }
    }
}

fn snappy_block(out: &mut Vec<u8>, pending: &mut Vec<u8>) -> Result<()> {
    let block = snap::raw::Encoder::new()
        .compress_vec(pending)
        .map_err(|e| corrupt(format!("cannot compress records with snappy: {e}")))?;
    let len = u32::try_from(block.len()).map_err(|_| corrupt("snappy block too large"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&block);
    pending.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn round_trip(codec: Compression, data: &[u8]) -> Vec<u8> {
        let mut d = Deflater::new(codec).unwrap();
        for chunk in data.chunks(1000) {
            d.write(chunk).unwrap();
        }
        let packed = d.finish().unwrap();
        let mut out = Vec::new();
        inflater(codec, &packed, u64::MAX)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn every_codec_round_trips_across_block_boundaries() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for codec in CODECS {
            assert_eq!(round_trip(codec, &data), data, "{codec:?}");
            assert_eq!(round_trip(codec, b"x"), b"x", "{codec:?}");
        }
    }

    #[test]
    fn kafka_protocol_reads_what_we_write() {
        use kafka_protocol::compression::{Decompressor, Gzip, Lz4, Snappy, Zstd};
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 13) as u8).collect();
        for codec in &CODECS[1..] {
            let mut d = Deflater::new(*codec).unwrap();
            d.write(&data).unwrap();
            let packed = bytes::Bytes::from(d.finish().unwrap());
            let take = |b: &mut bytes::Bytes| Ok(std::mem::take(b));
            let got = match codec {
                Compression::Gzip => Gzip::decompress(&mut packed.clone(), take),
                Compression::Snappy => Snappy::decompress(&mut packed.clone(), take),
                Compression::Lz4 => Lz4::decompress(&mut packed.clone(), take),
                _ => Zstd::decompress(&mut packed.clone(), take),
            }
            .unwrap();
            assert_eq!(&got[..], &data[..], "{codec:?}");
        }
    }

    #[test]
    fn raw_snappy_without_xerial_header_is_read() {
        let data = b"hello hello hello hello".repeat(10);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let mut out = Vec::new();
        inflater(Compression::Snappy, &raw, 10_000)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn snappy_refuses_a_block_larger_than_the_budget_before_allocating() {
        // A raw block whose varint header claims 4 GiB - 1.
        let lying = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        let mut r = inflater(Compression::Snappy, &lying, 1 << 20).unwrap();
        let err = r.read(&mut [0u8; 16]).unwrap_err();
        assert!(err.to_string().contains("more than the"), "{err}");
        // The same inside xerial framing.
        let mut framed = Vec::new();
        framed.extend_from_slice(SNAPPY_MAGIC);
        framed.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        framed.extend_from_slice(&(lying.len() as u32).to_be_bytes());
        framed.extend_from_slice(&lying);
        let mut r = inflater(Compression::Snappy, &framed, 1 << 20).unwrap();
        assert!(r.read(&mut [0u8; 16]).is_err());
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        for codec in &CODECS[1..] {
            let garbage = [0x5au8; 64];
            let res = inflater(*codec, &garbage, 1 << 20).and_then(|mut r| {
                let mut out = Vec::new();
                r.read_to_end(&mut out)
                    .map_err(|e| corrupt(e.to_string()))
                    .map(|_| out)
            });
            assert!(res.is_err(), "{codec:?}");
        }
    }
}
