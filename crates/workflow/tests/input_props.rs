//! Mutated inputs (issue 13): the input readers return Ok for data that is still valid and Err
//! otherwise, and never panic, whatever is done to a valid JSON or `.npy` input.

use proptest::prelude::*;
use serde_json::{json, Value};
use zkgrad_workflow::input::{read_json, read_npy_shaped};

fn npy(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

fn valid_npy() -> Vec<u8> {
    let data: Vec<u8> = (0..6)
        .flat_map(|i| (i as f32 * 0.5).to_le_bytes())
        .collect();
    npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n",
        &data,
    )
}

/// A structural mutation of a JSON value.
#[derive(Clone, Debug)]
enum Mutation {
    Drop(usize),
    Duplicate(usize),
    Wrap(usize),
    Unwrap(usize),
    Leaf(usize, Value),
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("NaN")),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(u64::MAX)),
        Just(json!(null)),
        Just(json!(true)),
        Just(json!({})),
        Just(json!([])),
        any::<i32>().prop_map(|v| json!(v)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        any::<usize>().prop_map(Mutation::Wrap),
        any::<usize>().prop_map(Mutation::Unwrap),
        (any::<usize>(), leaf()).prop_map(|(i, v)| Mutation::Leaf(i, v)),
    ]
}

/// Applies `m` to one of the arrays of `v` (chosen by the mutation's index among all arrays).
fn apply(v: &mut Value, m: &Mutation) {
    fn paths(v: &Value, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if let Value::Array(a) = v {
            out.push(at.clone());
            for (i, x) in a.iter().enumerate() {
                at.push(i);
                paths(x, at, out);
                at.pop();
            }
        }
    }
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let i = match m {
        Mutation::Drop(i)
        | Mutation::Duplicate(i)
        | Mutation::Wrap(i)
        | Mutation::Unwrap(i)
        | Mutation::Leaf(i, _) => *i,
    };
    let mut target = v;
    for &k in &all[i % all.len()] {
        target = &mut target[k];
    }
    let Value::Array(a) = target else { return };
    if a.is_empty() {
        return;
    }
    let j = i / 7 % a.len();
    match m {
        Mutation::Drop(_) => {
            a.remove(j);
        }
        Mutation::Duplicate(_) => {
            let x = a[j].clone();
            a.insert(j, x);
        }
        Mutation::Wrap(_) => {
            let x = a[j].take();
            a[j] = json!([x]);
        }
        Mutation::Unwrap(_) => {
            if let Value::Array(inner) = &a[j] {
                if let Some(x) = inner.first().cloned() {
                    a[j] = x;
                }
            }
        }
        Mutation::Leaf(_, l) => a[j] = l.clone(),
    }
}

/// Whether `v` is a rectangular array of finite numbers (the reader must accept exactly these).
fn shape(v: &Value) -> Option<Vec<usize>> {
    match v {
        Value::Number(n) => n.as_f64().filter(|x| x.is_finite()).map(|_| Vec::new()),
        Value::Array(a) => {
            let shapes: Option<Vec<Vec<usize>>> = a.iter().map(shape).collect();
            let shapes = shapes?;
            if shapes.windows(2).any(|w| w[0] != w[1]) {
                return None;
            }
            let mut s = vec![a.len()];
            s.extend(shapes.into_iter().next().unwrap_or_default());
            Some(s)
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_json_is_read_or_refused_never_a_panic(
        ms in proptest::collection::vec(mutation(), 1..4),
        wrapped in any::<bool>(),
    ) {
        let mut data = json!([[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]]);
        for m in &ms {
            apply(&mut data, m);
        }
        let doc = if wrapped { json!({"input_data": data.clone()}) } else { data.clone() };
        let r = read_json(doc.to_string().as_bytes());
        // Each graph input's array (the top level's arrays when all are arrays) must be
        // rectangular: exactly those are read.
        let groups: Vec<&Value> = match &data {
            Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_array) => a.iter().collect(),
            other => vec![other],
        };
        let valid = data.is_array() && groups.iter().all(|g| shape(g).is_some());
        prop_assert_eq!(r.is_ok(), valid, "{} gave {:?}", doc, r.as_ref().err().map(|e| e.to_string()));
        if let Ok(samples) = r {
            prop_assert!(samples.iter().flatten().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn flipped_or_truncated_npy_is_read_or_refused_never_a_panic(
        flips in proptest::collection::vec((any::<usize>(), 0u8..8), 0..4),
        cut in proptest::option::of(any::<usize>()),
        extra in proptest::collection::vec(any::<u8>(), 0..3),
    ) {
        let mut b = valid_npy();
        for (i, bit) in &flips {
            let n = b.len();
            b[i % n] ^= 1 << bit;
        }
        if let Some(c) = cut {
            b.truncate(c % (b.len() + 1));
        }
        b.extend_from_slice(&extra);
        if let Ok((vals, shape)) = read_npy_shaped(&b) {
            // Whatever was accepted is consistent: as many values as its shape says.
            prop_assert_eq!(vals.len(), shape.iter().product::<usize>());
        }
    }

    #[test]
    fn mutated_npy_headers_are_read_or_refused_never_a_panic(
        header in "\\{[ 'a-z_:,()<>0-9TrueFals\"\\-]{0,60}\\}[ \n]{0,4}",
    ) {
        let data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        if let Ok((vals, shape)) = read_npy_shaped(&npy(&header, &data)) {
            prop_assert_eq!(vals.len(), 6);
            prop_assert_eq!(shape.iter().product::<usize>(), 6);
        }
    }

    #[test]
    fn valid_npy_headers_in_any_legal_spacing_are_read(
        sp in proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("  "), Just("\t")], 12),
        trailing_comma in any::<bool>(),
    ) {
        let h = format!(
            "{{{0}'descr'{1}:{2}'<f4'{3},{4}'fortran_order'{5}:{6}False{7},{8}'shape'{9}:{10}(2,{11}3){comma}}}",
            sp[0], sp[1], sp[2], sp[3], sp[4], sp[5], sp[6], sp[7], sp[8], sp[9], sp[10], sp[11],
            comma = if trailing_comma { "," } else { "" },
        );
        let data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let r = read_npy_shaped(&npy(&h, &data));
        prop_assert!(r.is_ok(), "{}: {:?}", h, r.err().map(|e| e.to_string()));
        prop_assert_eq!(r.unwrap().1, vec![2, 3]);
    }
}
