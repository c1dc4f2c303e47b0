//! The trained MLP as an ONNX model libvmaf can load (SPEC §8): opset 17, inputs `features`
//! float32 [batch, 6] (already standardised) and `codec_onehot` float32 [batch, 14], output
//! `score` float32 [batch]. GELU is spelled `x * 0.5 * (1 + Erf(x / √2))` and only allowlisted
//! operators appear. Every weight is an initializer inside the file: nothing external.

use super::proto::Message;
use crate::train::mlp::{Mlp, HIDDEN, INPUT};

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

fn float_tensor(name: &str, dims: &[i64], values: impl IntoIterator<Item = f32>) -> Message {
    let raw: Vec<u8> = values.into_iter().flat_map(f32::to_le_bytes).collect();
    Message::new()
        .packed_ints(1, dims)
        .int(2, FLOAT)
        .string(8, name)
        .bytes(9, &raw)
}

fn int64_tensor(name: &str, dims: &[i64], values: &[i64]) -> Message {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Message::new()
        .packed_ints(1, dims)
        .int(2, INT64)
        .string(8, name)
        .bytes(9, &raw)
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str) -> Message {
    let mut m = Message::new();
    for input in inputs {
        m = m.string(1, input);
    }
    m.string(2, output).string(3, name).string(4, op)
}

fn value_info(name: &str, dims: &[Option<i64>]) -> Message {
    let mut shape = Message::new();
    for dim in dims {
        let d = match dim {
            Some(v) => Message::new().int(1, *v),
            None => Message::new().string(2, "batch"),
        };
        shape = shape.message(1, &d);
    }
    let tensor = Message::new().int(1, FLOAT).message(2, &shape);
    Message::new()
        .string(1, name)
        .message(2, &Message::new().message(1, &tensor))
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

/// Serialises `model` to ONNX bytes; `doc` goes into the model's doc string.
pub fn serialise(model: &Mlp, graph_name: &str, doc: &str) -> Vec<u8> {
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
    let mut nodes = vec![node("Concat", "concat", &INPUT_NAMES, "x").message(
        5,
        &Message::new().string(1, "axis").int(3, 1).int(20, ATTR_INT),
    )];
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
        graph = graph.message(1, n);
    }
    graph = graph.string(2, graph_name);
    for t in &initializers {
        graph = graph.message(5, t);
    }
    graph = graph
        .message(11, &value_info(INPUT_NAMES[0], &[None, Some(6)]))
        .message(11, &value_info(INPUT_NAMES[1], &[None, Some(14)]))
        .message(12, &value_info(OUTPUT_NAME, &[None]));
    Message::new()
        .int(1, IR_VERSION)
        .string(2, "ensemble-kit")
        .string(3, env!("CARGO_PKG_VERSION"))
        .string(6, doc)
        .message(7, &graph)
        .message(8, &Message::new().string(1, "").int(2, OPSET))
        .into_bytes()
}
