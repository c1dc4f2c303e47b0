//! Static shapes for the screen: each value's dimensions are the symbolic batch (the rows fed)
//! or a fixed size, as the model's inputs and outputs declare them and as the allowlisted
//! operators derive them by ONNX's rules. A rule that cannot say what a shape is refuses the
//! node instead of guessing.

use super::FLOAT;
use tract_onnx::pb;

/// One dimension of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// The number of rows fed (symbolic).
    Batch,
    /// A size the file fixes.
    Fixed(u64),
}

/// A value's dimensions, outermost first.
pub type Shape = Vec<Dim>;

/// What a rule answers: the shape, or why there is none.
type Derived = std::result::Result<Shape, String>;

/// Elements per row: the product of the fixed dimensions (saturating).
pub fn per_row(shape: &[Dim]) -> u64 {
    shape.iter().fold(1u64, |n, d| match d {
        Dim::Batch => n,
        Dim::Fixed(v) => n.saturating_mul(*v),
    })
}

/// `[batch, 6]`.
pub fn show(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Batch => "batch".to_owned(),
            Dim::Fixed(v) => v.to_string(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

/// The shape a float32 value's type declares: a symbolic (or absent) first dimension, the
/// batch, then fixed ones.
pub fn declared(info: &pb::ValueInfoProto) -> Derived {
    let Some(pb::type_proto::Value::TensorType(tensor)) =
        info.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err("it is not declared a tensor".into());
    };
    if tensor.elem_type != FLOAT {
        return Err(format!(
            "element type {} is not float32 (1)",
            tensor.elem_type
        ));
    }
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    if dims.is_empty() || dims.len() > 4 {
        return Err(format!("it has {} dimensions", dims.len()));
    }
    dims.iter()
        .enumerate()
        .map(|(i, dim)| match (&dim.value, i) {
            (Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)), _) if *v > 0 && i > 0 => {
                Ok(Dim::Fixed(*v as u64))
            }
            (Some(pb::tensor_shape_proto::dimension::Value::DimParam(_)) | None, 0) => {
                Ok(Dim::Batch)
            }
            _ => Err(format!(
                "dimension {i} must be {}",
                if i == 0 {
                    "the symbolic batch"
                } else {
                    "a fixed size"
                }
            )),
        })
        .collect()
}

/// An axis attribute (negative counts from the end) as an index into `rank` dimensions.
fn axis_of(axis: i64, rank: usize) -> std::result::Result<usize, String> {
    let rank_i = rank as i64;
    let normal = if axis < 0 { axis + rank_i } else { axis };
    usize::try_from(normal)
        .ok()
        .filter(|a| *a < rank)
        .ok_or_else(|| format!("axis {axis} is outside its {rank} dimension(s)"))
}

/// NumPy broadcasting of two shapes (Add, Mul, Div, Gemm's bias).
pub fn broadcast(a: &[Dim], b: &[Dim]) -> Derived {
    let rank = a.len().max(b.len());
    let at = |s: &[Dim], i: usize| {
        (i + s.len())
            .checked_sub(rank)
            .map_or(Dim::Fixed(1), |j| s[j])
    };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (Dim::Fixed(1), y) => Ok(y),
            (x, Dim::Fixed(1)) => Ok(x),
            _ => Err(format!("{} and {} do not broadcast", show(a), show(b))),
        })
        .collect()
}

/// Gemm's operand, transposed when asked; it must have two dimensions.
pub fn transposed(shape: &[Dim], transpose: bool) -> Derived {
    match shape {
        [m, k] if transpose => Ok(vec![*k, *m]),
        [_, _] => Ok(shape.to_vec()),
        _ => Err(format!(
            "operand {} does not have two dimensions",
            show(shape)
        )),
    }
}

/// MatMul of one- or two-dimensional operands: `[m, k] × [k, n] → [m, n]`, a vector side
/// dropping its dimension.
pub fn matmul(a: &[Dim], b: &[Dim]) -> Derived {
    let (m, k) = match a {
        [k] => (None, *k),
        [m, k] => (Some(*m), *k),
        _ => return Err(format!("operand {} has more than two dimensions", show(a))),
    };
    let (k2, n) = match b {
        [k2] => (*k2, None),
        [k2, n] => (*k2, Some(*n)),
        _ => return Err(format!("operand {} has more than two dimensions", show(b))),
    };
    if k != k2 {
        return Err(format!("{} and {} do not multiply", show(a), show(b)));
    }
    Ok(m.into_iter().chain(n).collect())
}

/// Concat along `axis`: the other dimensions agree, the joined ones are fixed.
pub fn concat(parts: &[&Shape], axis: i64) -> Derived {
    let first = parts.first().ok_or("it joins nothing")?;
    let axis = axis_of(axis, first.len())?;
    let mut joined = 0u64;
    for part in parts {
        let same_elsewhere = part.len() == first.len()
            && part
                .iter()
                .zip(first.iter())
                .enumerate()
                .all(|(i, (a, b))| i == axis || a == b);
        match part.get(axis) {
            Some(Dim::Fixed(v)) if same_elsewhere => joined = joined.saturating_add(*v),
            _ => {
                return Err(format!(
                    "it joins {} along axis {axis}, which do not fit together",
                    parts
                        .iter()
                        .map(|p| show(p))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ))
            }
        }
    }
    let mut shape = first.to_vec();
    shape[axis] = Dim::Fixed(joined);
    Ok(shape)
}

/// Reshape to `target` (ONNX: 0 copies the input's dimension unless `allowzero`, one -1 takes
/// what is left). The batch must come through whole: as a copied dimension, or as the -1 when
/// the fixed sizes match exactly.
pub fn reshape(input: &[Dim], target: &[i64], allowzero: bool) -> Derived {
    let bad = || {
        format!(
            "reshaping {} to {target:?} does not keep its rows apart",
            show(input)
        )
    };
    if target.iter().filter(|&&t| t == -1).count() > 1 {
        return Err(bad());
    }
    let mut shape = Vec::new();
    let mut free = None;
    for (i, &t) in target.iter().enumerate() {
        shape.push(match t {
            -1 => {
                free = Some(i);
                Dim::Fixed(1)
            }
            0 if !allowzero => *input.get(i).ok_or_else(bad)?,
            t if t >= 0 => Dim::Fixed(t as u64),
            _ => return Err(bad()),
        });
    }
    let has_batch = |s: &[Dim]| s.contains(&Dim::Batch);
    let (have, want) = (per_row(input), per_row(&shape));
    match (has_batch(input), has_batch(&shape), free) {
        (true, false, Some(i)) if have == want => shape[i] = Dim::Batch,
        (true, true, None) | (false, false, None) if have == want => {}
        (true, true, Some(i)) | (false, false, Some(i))
            if want > 0 && have.is_multiple_of(want) =>
        {
            shape[i] = Dim::Fixed(have / want)
        }
        _ => return Err(bad()),
    }
    Ok(shape)
}

/// Squeeze the listed axes (each of size 1), or every fixed dimension of size 1.
pub fn squeeze(input: &[Dim], axes: Option<&[i64]>) -> Derived {
    let Some(axes) = axes else {
        return Ok(input
            .iter()
            .copied()
            .filter(|d| *d != Dim::Fixed(1))
            .collect());
    };
    let mut drop = Vec::new();
    for &axis in axes {
        let i = axis_of(axis, input.len())?;
        if input[i] != Dim::Fixed(1) {
            return Err(format!(
                "it squeezes axis {axis} of {}, which is not of size 1",
                show(input)
            ));
        }
        drop.push(i);
    }
    Ok(input
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, d)| *d)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dim::{Batch, Fixed};

    #[test]
    fn the_kits_shapes_follow_onnx() {
        let x = vec![Batch, Fixed(20)];
        let h = matmul(&x, &[Fixed(20), Fixed(64)]).unwrap();
        assert_eq!(h, [Batch, Fixed(64)]);
        assert_eq!(broadcast(&h, &[Fixed(64)]).unwrap(), h);
        assert_eq!(broadcast(&h, &[]).unwrap(), h);
        let score = matmul(&h, &[Fixed(64), Fixed(1)]).unwrap();
        assert_eq!(reshape(&score, &[-1], false).unwrap(), [Batch]);
        assert_eq!(squeeze(&score, Some(&[-1])).unwrap(), [Batch]);
        let parts = [&vec![Batch, Fixed(6)], &vec![Batch, Fixed(14)]];
        assert_eq!(concat(&parts, 1).unwrap(), x);
        assert_eq!(
            transposed(&[Fixed(64), Fixed(20)], true).unwrap(),
            [Fixed(20), Fixed(64)]
        );
    }

    #[test]
    fn shapes_that_lose_or_mix_rows_are_refused() {
        let x = [Batch, Fixed(6)];
        assert!(concat(&[&x.to_vec(), &x.to_vec()], 0).is_err());
        assert!(reshape(&x, &[3, -1], false).is_err());
        assert!(reshape(&x, &[-1, 3], false).is_err());
        assert!(reshape(&x, &[-1, -1], false).is_err());
        assert!(broadcast(&x, &[Fixed(5)]).is_err());
        assert!(
            matmul(&[Fixed(6), Batch], &x).is_ok(),
            "contracting rows is caught by its caller"
        );
        assert!(squeeze(&x, Some(&[1])).is_err());
        assert!(concat(&[&x.to_vec()], 2).is_err());
    }
}
