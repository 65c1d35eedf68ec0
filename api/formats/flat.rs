//! Items flattened into CSV cells straight from their `Serialize` implementation.
//!
//! A CSV row needs a few dozen scalar values of an item, found by their paths
//! (`amount.currency`). Turning each item into a `serde_json::Value` first and looking the
//! paths up in it cost more than the rest of an export together (a profile of a 1M-entry
//! CSV export: malloc/free ~30%, the `Value` maps' hashing and key compares ~20%). Here a
//! serializer walks the item once along a tree of the wanted paths: a scalar at a wanted
//! path is written into one text buffer per batch and remembered as a span; fields no
//! column wants are not serialized at all. Only a wanted value that is not a scalar (a
//! localized text, a list, a free-form object) is kept as a `Value`, rendered as before.

use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::Value;

/// The wanted paths as a tree; each wanted path ends at a slot (a cell of a row).
#[derive(Debug, Default)]
pub struct Slots {
    root: Node,
    count: usize,
}

#[derive(Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    slot: Option<usize>,
}

impl Slots {
    /// The slot of `path`, added if new. A path that a wanted path goes through cannot
    /// itself be wanted (the schema gives an object either its own column or columns of
    /// its fields, not both).
    pub fn slot(&mut self, path: &[String]) -> usize {
        let mut node = &mut self.root;
        for key in path {
            let i = match node.children.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    node.children.push((key.clone(), Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
        }
        *node.slot.get_or_insert_with(|| {
            self.count += 1;
            self.count - 1
        })
    }
}

/// One cell of a flattened row.
#[derive(Clone, Copy, Debug)]
enum Cell {
    Null,
    /// A string, as a span of the batch's text.
    Str(u32, u32),
    /// A number or a boolean, as JSON writes it.
    Lit(u32, u32),
    /// A value that is not a scalar, by its index in the batch's values.
    Value(u32),
}

/// A cell as rendering sees it.
#[derive(Clone, Copy, Debug)]
pub enum CellRef<'a> {
    Null,
    Str(&'a str),
    Lit(&'a str),
    Value(&'a Value),
}

/// The wanted cells of a batch of items.
#[derive(Debug, Default)]
pub struct Flat {
    width: usize,
    cells: Vec<Cell>,
    text: String,
    values: Vec<Value>,
}

impl Flat {
    pub fn new(slots: &Slots, items: usize) -> Flat {
        Flat {
            width: slots.count,
            cells: Vec::with_capacity(slots.count * items),
            text: String::new(),
            values: Vec::new(),
        }
    }

    /// The rows flattened so far.
    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The bytes of the scalar cells' text.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Adds the row of `item`.
    pub fn push<T: Serialize + ?Sized>(&mut self, slots: &Slots, item: &T) -> Result<(), Error> {
        let base = self.cells.len();
        self.cells.resize(base + self.width, Cell::Null);
        item.serialize(Walker {
            node: &slots.root,
            flat: self,
            base,
        })
    }

    pub fn get(&self, row: usize, slot: usize) -> CellRef<'_> {
        let span = |a: u32, b: u32| &self.text[a as usize..b as usize];
        match self.cells[row * self.width + slot] {
            Cell::Null => CellRef::Null,
            Cell::Str(a, b) => CellRef::Str(span(a, b)),
            Cell::Lit(a, b) => CellRef::Lit(span(a, b)),
            Cell::Value(i) => CellRef::Value(&self.values[i as usize]),
        }
    }

    fn offset(&self) -> u32 {
        u32::try_from(self.text.len()).expect("a batch's text is under 4 GiB")
    }
}

/// Why an item could not be flattened: its own `Serialize` failed, or (inside, never
/// returned by [`Flat::push`]) a wanted value is not a scalar.
#[derive(Debug)]
pub struct Error(Option<String>);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(m) => f.write_str(m),
            None => f.write_str("not a scalar"),
        }
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<M: Display>(msg: M) -> Error {
        Error(Some(msg.to_string()))
    }
}

const NOT_SCALAR: Error = Error(None);

/// Serializes a value found at `node`: an object is walked into its wanted fields; a
/// value at a slot is written into it; anything else is skipped.
struct Walker<'a> {
    node: &'a Node,
    flat: &'a mut Flat,
    base: usize,
}

impl Walker<'_> {
    /// Writes the value of the child `key` of this node, if a column wants it. `hint` is
    /// where the search for the child starts: fields come in the order the columns were
    /// derived in, so the next field is usually the next child.
    fn field<T: Serialize + ?Sized>(
        &mut self,
        hint: &mut usize,
        key: &str,
        value: &T,
    ) -> Result<(), Error> {
        let children = &self.node.children;
        let n = children.len();
        let Some(i) = (0..n)
            .map(|i| (*hint + i) % n)
            .find(|&i| children[i].0 == key)
        else {
            return Ok(());
        };
        *hint = i + 1;
        let node = &children[i].1;
        let Some(slot) = node.slot else {
            return value.serialize(Walker {
                node,
                flat: self.flat,
                base: self.base,
            });
        };
        let at = self.base + slot;
        match value.serialize(Scalar { flat: self.flat }) {
            Ok(cell) => self.flat.cells[at] = cell,
            Err(Error(None)) => {
                let v = serde_json::to_value(value).map_err(ser::Error::custom)?;
                self.flat.cells[at] = if v.is_null() {
                    Cell::Null
                } else {
                    self.flat.values.push(v);
                    Cell::Value((self.flat.values.len() - 1) as u32)
                };
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

macro_rules! skip {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), Error> { Ok(()) })*
    };
}

impl<'a> ser::Serializer for Walker<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Skip;
    type SerializeTuple = Skip;
    type SerializeTupleStruct = Skip;
    type SerializeTupleVariant = Skip;
    type SerializeMap = Fields<'a>;
    type SerializeStruct = Fields<'a>;
    type SerializeStructVariant = Skip;

    // A scalar where an object was expected has no wanted fields.
    skip!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_none(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Skip, Error> {
        Ok(Skip)
    }

    fn serialize_tuple(self, _: usize) -> Result<Skip, Error> {
        Ok(Skip)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Skip, Error> {
        Ok(Skip)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Skip, Error> {
        Ok(Skip)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'a>, Error> {
        Ok(Fields {
            walker: self,
            key: None,
            hint: 0,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'a>, Error> {
        Ok(Fields {
            walker: self,
            key: None,
            hint: 0,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Skip, Error> {
        Ok(Skip)
    }
}

/// The fields of an object (a struct, or a map: `#[serde(flatten)]` makes one).
struct Fields<'a> {
    walker: Walker<'a>,
    /// A map's key, between `serialize_key` and `serialize_value`.
    key: Option<String>,
    /// Where the next field's search starts.
    hint: usize,
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.walker.field(&mut self.hint, key, value)
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

impl ser::SerializeMap for Fields<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // Keys are strings (JSON's own rule); a key of another kind matches no column.
        self.key = match serde_json::to_value(key) {
            Ok(Value::String(k)) => Some(k),
            _ => None,
        };
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match self.key.take() {
            Some(key) => self.walker.field(&mut self.hint, &key, value),
            None => Ok(()),
        }
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

/// The parts of a value no column wants.
struct Skip;

macro_rules! skip_compound {
    ($($trait:ident: $method:ident),* $(,)?) => {
        $(impl ser::$trait for Skip {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), Error> {
                Ok(())
            }
            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        })*
    };
}

skip_compound!(
    SerializeSeq: serialize_element,
    SerializeTuple: serialize_element,
    SerializeTupleStruct: serialize_field,
    SerializeTupleVariant: serialize_field,
);

impl ser::SerializeStructVariant for Skip {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

/// Serializes a wanted value that is a scalar into the batch's text, as JSON would
/// render it; anything else is [`NOT_SCALAR`] (then kept as a `Value`), found before a
/// byte is written.
struct Scalar<'a> {
    flat: &'a mut Flat,
}

impl Scalar<'_> {
    fn write(self, literal: bool, s: impl Display) -> Result<Cell, Error> {
        let start = self.flat.offset();
        write!(self.flat.text, "{s}").expect("writing to a String");
        let end = self.flat.offset();
        Ok(if literal {
            Cell::Lit(start, end)
        } else {
            Cell::Str(start, end)
        })
    }

    /// A float as `serde_json` writes it (`null` when not finite).
    fn float(self, v: Value) -> Result<Cell, Error> {
        match v {
            Value::Number(n) => self.write(true, n),
            _ => Ok(Cell::Null),
        }
    }
}

macro_rules! literal {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<Cell, Error> { self.write(true, v) })*
    };
}

impl ser::Serializer for Scalar<'_> {
    type Ok = Cell;
    type Error = Error;
    type SerializeSeq = Impossible<Cell, Error>;
    type SerializeTuple = Impossible<Cell, Error>;
    type SerializeTupleStruct = Impossible<Cell, Error>;
    type SerializeTupleVariant = Impossible<Cell, Error>;
    type SerializeMap = Impossible<Cell, Error>;
    type SerializeStruct = Impossible<Cell, Error>;
    type SerializeStructVariant = Impossible<Cell, Error>;

    literal!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
    );

    fn serialize_f32(self, v: f32) -> Result<Cell, Error> {
        self.float(Value::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<Cell, Error> {
        self.float(Value::from(v))
    }

    fn serialize_char(self, v: char) -> Result<Cell, Error> {
        self.write(false, v)
    }

    fn serialize_str(self, v: &str) -> Result<Cell, Error> {
        self.write(false, v)
    }

    fn collect_str<T: Display + ?Sized>(self, v: &T) -> Result<Cell, Error> {
        self.write(false, v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<Cell, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_none(self) -> Result<Cell, Error> {
        Ok(Cell::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Cell, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Cell, Error> {
        Ok(Cell::Null)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<Cell, Error> {
        Ok(Cell::Null)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Cell, Error> {
        self.write(false, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Cell, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Cell, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(NOT_SCALAR)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(NOT_SCALAR)
    }
}
