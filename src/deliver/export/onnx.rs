//! The trained MLP as an ONNX model libvmaf can load (SPEC §8): opset 17, inputs `features`
//! float32 [batch, 6] (already standardised) and `codec_onehot` float32 [batch, 14], output
//! `score` float32 [batch]. GELU is spelled `x * 0.5 * (1 + Erf(x / √2))` and only allowlisted
//! operators appear. Every weight is an initializer inside the file: nothing external.

use super::proto::Message;
use crate::learn::train::mlp::Mlp;
use crate::learn::train::shape::{HIDDEN, INPUT};

/// The operators libvmaf's ONNX loader accepts.
pub const OP_ALLOWLIST: &[&str] = &[
    "MatMul", "Gemm", "Add", "Mul", "Div", "Erf", "Concat", "Reshape", "Squeeze",
];

/// The model's inputs, in order: standardised features [batch, 6], codec block [batch, 14].
pub const INPUT_NAMES: [&str; 2] = ["features", "codec_onehot"];
/// The model's output: the predicted VMAF [batch].
pub const OUTPUT_NAME: &str = "score";

/// ONNX opset the models declare.
pub const OPSET: i64 = 17;
/// ONNX IR version matching opset 17.
const IR_VERSION: i64 = 8;
/// TensorProto.DataType FLOAT.
const FLOAT: i64 = 1;
/// TensorProto.DataType INT64.
const INT64: i64 = 7;
/// AttributeProto.AttributeType INT.
const ATTR_INT: i64 = 2;

/// Field numbers of the ONNX messages we write, named as in `onnx.proto` (IR version 8).
mod field {
    /// `ModelProto`.
    pub mod model {
        pub const IR_VERSION: u32 = 1;
        pub const PRODUCER_NAME: u32 = 2;
        pub const PRODUCER_VERSION: u32 = 3;
        pub const DOC_STRING: u32 = 6;
        pub const GRAPH: u32 = 7;
        pub const OPSET_IMPORT: u32 = 8;
    }
    /// `OperatorSetIdProto`.
    pub mod opset {
        pub const DOMAIN: u32 = 1;
        pub const VERSION: u32 = 2;
    }
    /// `GraphProto`.
    pub mod graph {
        pub const NODE: u32 = 1;
        pub const NAME: u32 = 2;
        pub const INITIALIZER: u32 = 5;
        pub const INPUT: u32 = 11;
        pub const OUTPUT: u32 = 12;
    }
    /// `NodeProto`.
    pub mod node {
        pub const INPUT: u32 = 1;
        pub const OUTPUT: u32 = 2;
        pub const NAME: u32 = 3;
        pub const OP_TYPE: u32 = 4;
        pub const ATTRIBUTE: u32 = 5;
    }
    /// `AttributeProto`.
    pub mod attribute {
        pub const NAME: u32 = 1;
        pub const I: u32 = 3;
        pub const TYPE: u32 = 20;
    }
    /// `TensorProto`.
    pub mod tensor {
        pub const DIMS: u32 = 1;
        pub const DATA_TYPE: u32 = 2;
        pub const NAME: u32 = 8;
        pub const RAW_DATA: u32 = 9;
    }
    /// `ValueInfoProto`.
    pub mod value_info {
        pub const NAME: u32 = 1;
        pub const TYPE: u32 = 2;
    }
    /// `TypeProto` (its `tensor_type`) and `TypeProto.Tensor` (`elem_type`, `shape`).
    pub mod type_proto {
        pub const TENSOR_TYPE: u32 = 1;
        pub const ELEM_TYPE: u32 = 1;
        pub const SHAPE: u32 = 2;
    }
    /// `TensorShapeProto` (`dim`) and its `Dimension` (`dim_value`, `dim_param`).
    pub mod shape {
        pub const DIM: u32 = 1;
        pub const DIM_VALUE: u32 = 1;
        pub const DIM_PARAM: u32 = 2;
    }
}

/// A `TensorProto` holding `raw` little-endian values of `data_type`.
fn tensor(name: &str, dims: &[i64], data_type: i64, raw: &[u8]) -> Message {
    Message::new()
        .packed_ints(field::tensor::DIMS, dims)
        .int(field::tensor::DATA_TYPE, data_type)
        .string(field::tensor::NAME, name)
        .bytes(field::tensor::RAW_DATA, raw)
}

fn float_tensor(name: &str, dims: &[i64], values: impl IntoIterator<Item = f32>) -> Message {
    let raw: Vec<u8> = values.into_iter().flat_map(f32::to_le_bytes).collect();
    tensor(name, dims, FLOAT, &raw)
}

fn int64_tensor(name: &str, dims: &[i64], values: &[i64]) -> Message {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, dims, INT64, &raw)
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> Message {
    let mut m = Message::new();
    for input in inputs {
        m = m.string(field::node::INPUT, input);
    }
    m.string(field::node::OUTPUT, output)
        .string(field::node::NAME, name)
        .string(field::node::OP_TYPE, op)
}

fn value_info(name: &str, dims: &[Option<i64>]) -> Message {
    let mut shape = Message::new();
    for dim in dims {
        let d = match dim {
            Some(v) => Message::new().int(field::shape::DIM_VALUE, *v),
            None => Message::new().string(field::shape::DIM_PARAM, "batch"),
        };
        shape = shape.message(field::shape::DIM, &d);
    }
    let tensor = Message::new()
        .int(field::type_proto::ELEM_TYPE, FLOAT)
        .message(field::type_proto::SHAPE, &shape);
    Message::new()
        .string(field::value_info::NAME, name)
        .message(
            field::value_info::TYPE,
            &Message::new().message(field::type_proto::TENSOR_TYPE, &tensor),
        )
}

/// Appends `out = GELU(x)` as Div, Erf, Add, Mul, Mul nodes.
fn gelu(nodes: &mut Vec<Message>, x: &str, out: &str) {
    let p = |s: &str| format!("{out}_{s}");
    nodes.push(node("Div", &p("div"), &[x, "sqrt2"], &p("scaled")));
    nodes.push(node("Erf", &p("erf"), &[&p("scaled")], &p("erf_out")));
    nodes.push(node(
        "Add",
        &p("add"),
        &[&p("erf_out"), "one"],
        &p("one_plus"),
    ));
    nodes.push(node("Mul", &p("mul"), &[x, &p("one_plus")], &p("x_times")));
    nodes.push(node("Mul", &p("half"), &[&p("x_times"), "half"], out));
}

/// Serialises `model` to ONNX bytes; `doc` goes into the model's doc string and `kit_version`
/// (the kit that fitted it) into its producer version.
pub fn serialise(model: &Mlp, graph_name: &str, doc: &str, kit_version: &str) -> Vec<u8> {
    let (h, i) = (HIDDEN as i64, INPUT as i64);
    let initializers = [
        float_tensor("w1", &[i, h], model.w1.iter().copied()),
        float_tensor("b1", &[h], model.b1.iter().copied()),
        float_tensor("w2", &[h, h], model.w2.iter().copied()),
        float_tensor("b2", &[h], model.b2.iter().copied()),
        float_tensor("w3", &[h, 1], model.w3.iter().copied()),
        float_tensor("b3", &[1], [model.b3]),
        float_tensor("sqrt2", &[], [std::f32::consts::SQRT_2]),
        float_tensor("one", &[], [1.0]),
        float_tensor("half", &[], [0.5]),
        int64_tensor("score_shape", &[1], &[-1]),
    ];
    let axis = Message::new()
        .string(field::attribute::NAME, "axis")
        .int(field::attribute::I, 1)
        .int(field::attribute::TYPE, ATTR_INT);
    let mut nodes =
        vec![node("Concat", "concat", &INPUT_NAMES, "x").message(field::node::ATTRIBUTE, &axis)];
    nodes.push(node("MatMul", "fc1", &["x", "w1"], "fc1_mm"));
    nodes.push(node("Add", "fc1_bias", &["fc1_mm", "b1"], "z1"));
    gelu(&mut nodes, "z1", "h1");
    nodes.push(node("MatMul", "fc2", &["h1", "w2"], "fc2_mm"));
    nodes.push(node("Add", "fc2_bias", &["fc2_mm", "b2"], "z2"));
    gelu(&mut nodes, "z2", "h2");
    nodes.push(node("MatMul", "fc3", &["h2", "w3"], "fc3_mm"));
    nodes.push(node("Add", "fc3_bias", &["fc3_mm", "b3"], "score_column"));
    nodes.push(node(
        "Reshape",
        "flatten",
        &["score_column", "score_shape"],
        OUTPUT_NAME,
    ));

    let mut graph = Message::new();
    for n in &nodes {
        graph = graph.message(field::graph::NODE, n);
    }
    graph = graph.string(field::graph::NAME, graph_name);
    for t in &initializers {
        graph = graph.message(field::graph::INITIALIZER, t);
    }
    graph = graph
        .message(
            field::graph::INPUT,
            &value_info(INPUT_NAMES[0], &[None, Some(6)]),
        )
        .message(
            field::graph::INPUT,
            &value_info(INPUT_NAMES[1], &[None, Some(14)]),
        )
        .message(field::graph::OUTPUT, &value_info(OUTPUT_NAME, &[None]));
    let opset = Message::new()
        .string(field::opset::DOMAIN, "")
        .int(field::opset::VERSION, OPSET);
    Message::new()
        .int(field::model::IR_VERSION, IR_VERSION)
        .string(field::model::PRODUCER_NAME, "ensemble-kit")
        .string(field::model::PRODUCER_VERSION, kit_version)
        .string(field::model::DOC_STRING, doc)
        .message(field::model::GRAPH, &graph)
        .message(field::model::OPSET_IMPORT, &opset)
        .into_bytes()
}
