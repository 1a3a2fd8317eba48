//! A small columnar table written to and read from Parquet with the low-level `parquet` API:
//! UTF-8 and INT64 columns, nullable or not, one row group, Snappy, fixed `created_by`, so the
//! same rows give the same bytes. Null stays null: an unknown figure must not come back as 0.

use std::sync::Arc;

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::schema::types::Type;

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Str(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// `false`: every value must be present (keys such as `user`).
    pub nullable: bool,
    pub values: Values,
}

impl Column {
    pub fn str(name: &str, nullable: bool, v: Vec<Option<String>>) -> Self {
        Column {
            name: name.into(),
            nullable,
            values: Values::Str(v),
        }
    }
    pub fn int(name: &str, v: Vec<Option<i64>>) -> Self {
        Column {
            name: name.into(),
            nullable: true,
            values: Values::Int(v),
        }
    }
    fn len(&self) -> usize {
        match &self.values {
            Values::Str(v) => v.len(),
            Values::Int(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    /// Key-value metadata in the file footer (schema version, window, tool).
    pub metadata: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("column {0} is not nullable but has a null")]
    NullInKey(String),
    #[error("column {0} has {1} rows, the first column {2}")]
    Ragged(String, usize, usize),
    #[error("column {column}: {problem}")]
    Shape { column: String, problem: String },
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn to_parquet(&self) -> Result<Vec<u8>, TableError> {
        let n = self.rows();
        let mut fields = Vec::new();
        for c in &self.columns {
            if c.len() != n {
                return Err(TableError::Ragged(c.name.clone(), c.len(), n));
            }
            let repetition = if c.nullable {
                Repetition::OPTIONAL
            } else {
                Repetition::REQUIRED
            };
            let t = match c.values {
                Values::Str(_) => Type::primitive_type_builder(&c.name, PhysicalType::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String))
                    .with_converted_type(ConvertedType::UTF8),
                Values::Int(_) => Type::primitive_type_builder(&c.name, PhysicalType::INT64),
            }
            .with_repetition(repetition)
            .build()?;
            fields.push(Arc::new(t));
        }
        let schema = Type::group_type_builder("akko_audit")
            .with_fields(fields)
            .build()?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("akko-audit {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(
                self.metadata
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect(),
            ))
            .build();
        let mut buf = Vec::new();
        let mut w = SerializedFileWriter::new(&mut buf, Arc::new(schema), Arc::new(props))?;
        let mut rg = w.next_row_group()?;
        for c in &self.columns {
            let Some(mut cw) = rg.next_column()? else {
                break;
            };
            let def =
                |present: Vec<bool>| -> Vec<i16> { present.into_iter().map(i16::from).collect() };
            match &c.values {
                Values::Int(v) => {
                    let vals: Vec<i64> = v.iter().flatten().copied().collect();
                    if !c.nullable && vals.len() != v.len() {
                        return Err(TableError::NullInKey(c.name.clone()));
                    }
                    let levels = def(v.iter().map(Option::is_some).collect());
                    cw.typed::<Int64Type>().write_batch(
                        &vals,
                        c.nullable.then_some(&levels[..]),
                        None,
                    )?;
                }
                Values::Str(v) => {
                    let vals: Vec<ByteArray> = v
                        .iter()
                        .flatten()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    if !c.nullable && vals.len() != v.len() {
                        return Err(TableError::NullInKey(c.name.clone()));
                    }
                    let levels = def(v.iter().map(Option::is_some).collect());
                    cw.typed::<ByteArrayType>().write_batch(
                        &vals,
                        c.nullable.then_some(&levels[..]),
                        None,
                    )?;
                }
            }
            cw.close()?;
        }
        rg.close()?;
        w.close()?;
        Ok(buf)
    }

    pub fn from_parquet(bytes: Vec<u8>) -> Result<Table, TableError> {
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))?;
        let meta = reader.metadata().file_metadata();
        let metadata = meta
            .key_value_metadata()
            .map(|kv| {
                kv.iter()
                    .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let mut columns: Vec<Column> = meta
            .schema_descr()
            .columns()
            .iter()
            .map(|c| {
                let nullable = c.self_type().is_optional();
                let values = match c.physical_type() {
                    PhysicalType::INT64 => Ok(Values::Int(Vec::new())),
                    PhysicalType::BYTE_ARRAY => Ok(Values::Str(Vec::new())),
                    other => Err(TableError::Shape {
                        column: c.name().to_string(),
                        problem: format!("unsupported type {other}"),
                    }),
                }?;
                Ok(Column {
                    name: c.name().to_string(),
                    nullable,
                    values,
                })
            })
            .collect::<Result<_, TableError>>()?;
        for row in reader.get_row_iter(None)? {
            let row = row?;
            for (i, (_, field)) in row.get_column_iter().enumerate() {
                let col = &mut columns[i];
                match (&mut col.values, field) {
                    (Values::Int(v), Field::Long(x)) => v.push(Some(*x)),
                    (Values::Int(v), Field::Null) => v.push(None),
                    (Values::Str(v), Field::Str(s)) => v.push(Some(s.clone())),
                    (Values::Str(v), Field::Null) => v.push(None),
                    (_, other) => {
                        return Err(TableError::Shape {
                            column: col.name.clone(),
                            problem: format!("unexpected value {other:?}"),
                        })
                    }
                }
            }
        }
        Ok(Table { columns, metadata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_nulls_and_metadata_and_is_deterministic() {
        let t = Table {
            columns: vec![
                Column::str(
                    "user",
                    false,
                    vec![Some("alice".into()), Some("陈伟".into())],
                ),
                Column::str("team", true, vec![None, Some("finance".into())]),
                Column::int("trino_queries", vec![Some(0), None]),
                Column::int("big", vec![Some(i64::MAX), Some(-1)]),
            ],
            metadata: vec![("akko_audit.schema_version".into(), "1".into())],
        };
        let bytes = t.to_parquet().unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        assert_eq!(bytes, t.to_parquet().unwrap(), "same rows, same bytes");
        let back = Table::from_parquet(bytes).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.meta("akko_audit.schema_version"), Some("1"));
        let bad = Table {
            columns: vec![Column::str("user", false, vec![None])],
            metadata: vec![],
        };
        assert!(matches!(bad.to_parquet(), Err(TableError::NullInKey(_))));
    }
}
