//! Test fixture: a converter that passes bytes through both ways but refuses the second value
//! `from_connect` is given, so that a test can place one failing record among good ones where
//! the converter sees nothing to tell them apart by (a header a transform inserts with the same
//! value on every record).

use weft_plugin_sdk::*;

#[derive(Default)]
struct RefuseSecond {
    written: u64,
}

impl Plugin for RefuseSecond {
    fn metadata() -> Metadata {
        Metadata::new(
            "refuse-second",
            "0.1.0",
            PluginKind::Converter,
            "Passes bytes through; refuses the second value it writes",
        )
        .config(ConfigDef::new(
            "converter.type",
            ConfigType::String,
            "How this converter will be used.",
        ))
    }
}

impl Converter for RefuseSecond {
    fn from_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
        _schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        self.written += 1;
        if self.written == 2 {
            return Err(PluginError::fatal("refusing the second value"));
        }
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

export_converter!(RefuseSecond);
