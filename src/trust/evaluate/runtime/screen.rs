//! The ONNX screen: a model file is decoded as protobuf and checked before the runtime (tract)
//! prepares it. Preparing folds a graph's constant parts and sizes its tensors from what the
//! file says, so a 533-byte file asking for a constant of 10¹² elements was enough to crash
//! `evaluate`. Only what the kit's models and the reference kit's are made of (SPEC §8) passes:
//!
//! - operators of [`OP_ALLOWLIST`] in the default domain, at most [`NODES_MAX`] of them, each
//!   computing from the model's inputs (nothing for the runtime to fold ahead of time), with
//!   small numeric attributes only;
//! - initializers of float32 or int64 whose data is in the file and matches their dimensions,
//!   [`INITIALIZER_ELEMENTS_MAX`] elements in all;
//! - two float32 inputs `[batch, N]`, with the names and widths the sidecar gives, and one
//!   float32 output `[batch]` (or `[batch, 1]`) with the sidecar's name;
//! - every value's shape, derived node by node, keeps the one batch dimension and holds at
//!   most [`ROW_ELEMENTS_MAX`] elements per row.
//!
//! Anything else is refused naming the node, initializer, input or output.

mod shapes;

use crate::deliver::export::onnx::OP_ALLOWLIST;
use crate::progress::outside;
use prost::Message as _;
use shapes::{Dim, Shape};
use std::collections::BTreeMap;
use tract_onnx::pb;

/// Most nodes a model may have (the kit's have 18).
pub const NODES_MAX: usize = 64;
/// Most initializer elements a model may hold, all together (the kit's hold about 5,600).
pub const INITIALIZER_ELEMENTS_MAX: u64 = 1 << 20;
/// Most elements one value may hold per row of input (the kit's widest holds 64).
pub const ROW_ELEMENTS_MAX: u64 = 1 << 12;
/// Most elements all values together may hold per row, which bounds the runtime's memory per
/// chunk of rows.
const ROW_ELEMENTS_TOTAL_MAX: u64 = 1 << 16;
/// Most inputs one node may take, and values in one list attribute.
const LIST_MAX: usize = 8;

/// TensorProto.DataType FLOAT and INT64.
const FLOAT: i32 = 1;
const INT64: i32 = 7;
/// TensorProto.DataLocation EXTERNAL.
const EXTERNAL: i32 = 1;

/// What the sidecar says the model takes and gives.
pub struct Expected<'a> {
    /// The two inputs' names and widths: features, then the codec block.
    pub inputs: [(&'a str, u64); 2],
    /// The output's name.
    pub output: &'a str,
}

/// A value of the graph: its shape and, for a small int64 initializer, its contents (a
/// `Reshape` target or `Squeeze` axes).
struct Value {
    shape: Shape,
    constant: bool,
    ints: Option<Vec<i64>>,
}

/// Checks `bytes` as an ONNX model the kit may hand to the runtime; the error says what is
/// refused and where (it is a sentence for "model `PATH`: …").
pub fn check(bytes: &[u8], expected: &Expected) -> std::result::Result<(), String> {
    let model = pb::ModelProto::decode(bytes)
        .map_err(|e| format!("not an ONNX model (its protobuf does not decode: {e})"))?;
    for opset in &model.opset_import {
        if !default_domain(&opset.domain) {
            return Err(format!(
                "it imports operator set domain `{}`; the kit's models use only the default ONNX domain",
                outside(&opset.domain)
            ));
        }
    }
    if !model.functions.is_empty() || !model.training_info.is_empty() {
        return Err(
            "it defines functions or training steps; the kit's models hold one plain graph".into(),
        );
    }
    let graph = model.graph.as_ref().ok_or("it holds no graph")?;
    if !graph.sparse_initializer.is_empty() {
        return Err("it holds sparse initializers; the kit's models hold dense ones only".into());
    }
    let mut values = initializers(graph)?;
    inputs(graph, &mut values, expected)?;
    if graph.node.len() > NODES_MAX {
        return Err(format!(
            "it has {} nodes; the kit's models have at most {NODES_MAX}",
            graph.node.len()
        ));
    }
    let mut row_total = 0u64;
    for (index, node) in graph.node.iter().enumerate() {
        let shape = self::node(node, &values).map_err(|why| {
            let name = if node.name.is_empty() {
                format!("#{index}")
            } else {
                format!("`{}`", outside(&node.name))
            };
            format!("node {name} ({}): {why}", outside(&node.op_type))
        })?;
        row_total = row_total.saturating_add(shapes::per_row(&shape));
        if row_total > ROW_ELEMENTS_TOTAL_MAX {
            return Err(format!(
                "its values hold more than {ROW_ELEMENTS_TOTAL_MAX} elements per row together (by node `{}`)",
                outside(&node.name)
            ));
        }
        let value = Value {
            shape,
            constant: false,
            ints: None,
        };
        values.insert(node.output[0].clone(), value);
    }
    for info in &graph.value_info {
        let shape = shapes::declared(info)
            .map_err(|why| format!("value_info `{}`: {why}", outside(&info.name)))?;
        if shapes::per_row(&shape) > ROW_ELEMENTS_MAX {
            return Err(format!(
                "value_info `{}` declares {}, more than {ROW_ELEMENTS_MAX} elements per row",
                outside(&info.name),
                shapes::show(&shape)
            ));
        }
    }
    output(graph, &values, expected)
}

/// Whether an operator set or node domain is ONNX's default one.
fn default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// The initializers as constant values, each checked: a known element type, its data in the
/// file and as long as its dimensions say, all within [`INITIALIZER_ELEMENTS_MAX`].
fn initializers(graph: &pb::GraphProto) -> std::result::Result<BTreeMap<String, Value>, String> {
    let mut values = BTreeMap::new();
    let mut total = 0u64;
    for tensor in &graph.initializer {
        let bad = |why: String| format!("initializer `{}`: {why}", outside(&tensor.name));
        if tensor.data_location == Some(EXTERNAL) || !tensor.external_data.is_empty() {
            return Err(bad(
                "its data is in another file; the kit's models hold every weight inside".into(),
            ));
        }
        if tensor.segment.is_some() || tensor.name.is_empty() {
            return Err(bad("it is a segment or has no name".into()));
        }
        let mut elements = 1u64;
        let mut shape = Vec::new();
        for &dim in &tensor.dims {
            let dim =
                u64::try_from(dim).map_err(|_| bad(format!("dimension {dim} is negative")))?;
            elements = elements.saturating_mul(dim);
            shape.push(Dim::Fixed(dim));
        }
        total = total.saturating_add(elements);
        if total > INITIALIZER_ELEMENTS_MAX {
            return Err(bad(format!(
                "dimensions {:?} bring the initializers past {INITIALIZER_ELEMENTS_MAX} elements",
                tensor.dims
            )));
        }
        let (width, typed) = match tensor.data_type {
            FLOAT => (4, tensor.float_data.len()),
            INT64 => (8, tensor.int64_data.len()),
            other => {
                return Err(bad(format!(
                    "element type {other} is neither float32 (1) nor int64 (7)"
                )))
            }
        };
        let others = tensor.int32_data.len()
            + tensor.string_data.len()
            + tensor.double_data.len()
            + tensor.uint64_data.len()
            + if tensor.data_type == FLOAT {
                tensor.int64_data.len()
            } else {
                tensor.float_data.len()
            };
        let held = if tensor.raw_data.is_empty() {
            typed as u64
        } else {
            tensor.raw_data.len() as u64 / width
        };
        if others != 0
            || (typed != 0 && !tensor.raw_data.is_empty())
            || held != elements
            || !(tensor.raw_data.len() as u64).is_multiple_of(width)
        {
            return Err(bad(format!(
                "its dimensions {:?} call for {elements} element(s), but it holds {held}",
                tensor.dims
            )));
        }
        let ints = (tensor.data_type == INT64 && elements <= LIST_MAX as u64).then(|| {
            if tensor.raw_data.is_empty() {
                tensor.int64_data.clone()
            } else {
                tensor
                    .raw_data
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect()
            }
        });
        let value = Value {
            shape,
            constant: true,
            ints,
        };
        if values.insert(tensor.name.clone(), value).is_some() {
            return Err(bad("it is defined twice".into()));
        }
    }
    Ok(values)
}

/// The model's inputs (graph inputs that are not initializers): exactly the two the sidecar
/// names, float32 `[batch, width]`.
fn inputs(
    graph: &pb::GraphProto,
    values: &mut BTreeMap<String, Value>,
    expected: &Expected,
) -> std::result::Result<(), String> {
    let given: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !values.contains_key(&i.name))
        .collect();
    let names: Vec<String> = given.iter().map(|i| outside(&i.name)).collect();
    let wanted: Vec<&str> = expected.inputs.iter().map(|(n, _)| *n).collect();
    if given.len() != 2 || given.iter().zip(&wanted).any(|(i, w)| i.name != *w) {
        return Err(format!(
            "its inputs are {names:?}; its sidecar names {wanted:?}"
        ));
    }
    for (info, (name, width)) in given.iter().zip(expected.inputs) {
        let shape = shapes::declared(info).map_err(|why| format!("input `{name}`: {why}"))?;
        if shape != [Dim::Batch, Dim::Fixed(width)] {
            return Err(format!(
                "input `{name}` is {}; its sidecar calls for [batch, {width}]",
                shapes::show(&shape)
            ));
        }
        values.insert(
            info.name.clone(),
            Value {
                shape,
                constant: false,
                ints: None,
            },
        );
    }
    Ok(())
}

/// The model's one output: the sidecar's name, float32 `[batch]` or `[batch, 1]`, declared so
/// and derived so.
fn output(
    graph: &pb::GraphProto,
    values: &BTreeMap<String, Value>,
    expected: &Expected,
) -> std::result::Result<(), String> {
    let [info] = graph.output.as_slice() else {
        return Err(format!(
            "it has {} outputs; the kit's models have one, `{}`",
            graph.output.len(),
            expected.output
        ));
    };
    if info.name != expected.output {
        return Err(format!(
            "its output is `{}`; its sidecar names `{}`",
            outside(&info.name),
            expected.output
        ));
    }
    let declared =
        shapes::declared(info).map_err(|why| format!("output `{}`: {why}", expected.output))?;
    let derived = values
        .get(&info.name)
        .filter(|v| !v.constant)
        .map(|v| &v.shape)
        .ok_or_else(|| format!("no node computes its output `{}`", expected.output))?;
    let one_score = |s: &Shape| s == &[Dim::Batch] || s == &[Dim::Batch, Dim::Fixed(1)];
    if !one_score(&declared) || !one_score(derived) {
        return Err(format!(
            "output `{}` is declared {} and computed as {}; one score per row, [batch], is expected",
            expected.output,
            shapes::show(&declared),
            shapes::show(derived)
        ));
    }
    Ok(())
}

/// Checks one node and derives the shape of its output.
fn node(
    node: &pb::NodeProto,
    values: &BTreeMap<String, Value>,
) -> std::result::Result<Shape, String> {
    if !default_domain(&node.domain) || !OP_ALLOWLIST.contains(&node.op_type.as_str()) {
        return Err(format!(
            "operator `{}{}` is not one the kit's models use (only {})",
            if default_domain(&node.domain) {
                String::new()
            } else {
                format!("{}.", outside(&node.domain))
            },
            outside(&node.op_type),
            OP_ALLOWLIST.join(", ")
        ));
    }
    for attribute in &node.attribute {
        let big = attribute.t.is_some()
            || attribute.g.is_some()
            || attribute.sparse_tensor.is_some()
            || !attribute.tensors.is_empty()
            || !attribute.graphs.is_empty()
            || !attribute.sparse_tensors.is_empty()
            || !attribute.type_protos.is_empty()
            || !attribute.strings.is_empty()
            || !attribute.s.is_empty()
            || attribute.ints.len() > LIST_MAX
            || attribute.floats.len() > LIST_MAX;
        if big {
            return Err(format!(
                "attribute `{}` holds more than a few numbers",
                outside(&attribute.name)
            ));
        }
    }
    if node.input.is_empty() || node.input.len() > LIST_MAX {
        return Err(format!("it takes {} inputs", node.input.len()));
    }
    if node.output.len() != 1 || node.output[0].is_empty() || values.contains_key(&node.output[0]) {
        return Err(
            "it must compute one new value (its output is missing, or defined already)".into(),
        );
    }
    let mut operands = Vec::new();
    for name in &node.input {
        if name.is_empty() {
            operands.push(None);
            continue;
        }
        let value = values.get(name).ok_or_else(|| {
            format!(
                "it uses `{}`, which no input, initializer or earlier node defines",
                outside(name)
            )
        })?;
        operands.push(Some(value));
    }
    if operands.iter().flatten().all(|v| v.constant) {
        return Err("it computes from constants only (the runtime would compute it ahead of time); every node of the kit's models computes from the model's inputs".into());
    }
    let int = |name: &str| node.attribute.iter().find(|a| a.name == name).map(|a| a.i);
    let ints = |name: &str| {
        node.attribute
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.ints.clone())
    };
    let shape = |i: usize| {
        operands
            .get(i)
            .copied()
            .flatten()
            .map(|v| &v.shape)
            .ok_or_else(|| format!("input {i} is missing"))
    };
    let constant_ints = |i: usize| {
        operands
            .get(i)
            .copied()
            .flatten()
            .filter(|v| v.constant)
            .and_then(|v| v.ints.clone())
            .ok_or_else(|| format!("input {i} must be a small int64 initializer"))
    };
    let arity = |n: usize| {
        if node.input.len() == n {
            Ok(())
        } else {
            Err(format!("it takes {} inputs, not {n}", node.input.len()))
        }
    };
    let derived = match node.op_type.as_str() {
        "Add" | "Mul" | "Div" => {
            arity(2)?;
            shapes::broadcast(shape(0)?, shape(1)?)?
        }
        "Erf" => {
            arity(1)?;
            shape(0)?.clone()
        }
        "MatMul" => {
            arity(2)?;
            shapes::matmul(shape(0)?, shape(1)?)?
        }
        "Gemm" => {
            let a = shapes::transposed(shape(0)?, int("transA").unwrap_or(0) != 0)?;
            let b = shapes::transposed(shape(1)?, int("transB").unwrap_or(0) != 0)?;
            let product = shapes::matmul(&a, &b)?;
            if let Some(c) = operands.get(2).copied().flatten() {
                if shapes::broadcast(&product, &c.shape)? != product {
                    return Err(format!(
                        "its bias {} does not fit {}",
                        shapes::show(&c.shape),
                        shapes::show(&product)
                    ));
                }
            }
            product
        }
        "Concat" => {
            let axis = int("axis").ok_or("it has no axis")?;
            let parts: Vec<&Shape> = (0..node.input.len()).map(shape).collect::<Result<_, _>>()?;
            shapes::concat(&parts, axis)?
        }
        "Reshape" => {
            arity(2)?;
            shapes::reshape(
                shape(0)?,
                &constant_ints(1)?,
                int("allowzero").unwrap_or(0) != 0,
            )?
        }
        "Squeeze" => {
            let axes = match node.input.len() {
                1 => ints("axes"),
                2 => Some(constant_ints(1)?),
                n => return Err(format!("it takes {n} inputs")),
            };
            shapes::squeeze(shape(0)?, axes.as_deref())?
        }
        other => {
            return Err(format!(
                "operator `{other}` has no shape rule in the screen"
            ))
        }
    };
    if derived.iter().filter(|d| **d == Dim::Batch).count() != 1 {
        return Err(format!(
            "it computes a value of shape {}; every value of the kit's models keeps one row per input row",
            shapes::show(&derived)
        ));
    }
    if shapes::per_row(&derived) > ROW_ELEMENTS_MAX {
        return Err(format!(
            "it computes a value of shape {}, more than {ROW_ELEMENTS_MAX} elements per row",
            shapes::show(&derived)
        ));
    }
    Ok(derived)
}
