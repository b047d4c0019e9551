//! Convolution, write side (`zkgrad_circuit::conv`):
//! `õut(r_p ‖ r_co) − 2^k b̃(r_co)·[p real] = Σ_j A(j)·B(j)` over the im2col columns, then the
//! im2col claim `X̃(ρ ‖ r_p) = Σ_i w(i)·x̃(i)` with `w(i) = Σ_{π(p,j)=i} eq(r_p,p)·eq(ρ,j)`.

use zkgrad_circuit::conv::ConvGeom;
use zkgrad_circuit::layout::Operand;
use zkgrad_field::{f_from_i64, PrimeCharacteristicRing, E, F};
use zkgrad_poly::{eq_table, eval_mle_base};
use zkgrad_sumcheck::ProductOracle;
use zkgrad_transcript::ProverTranscript;

use super::At;
use crate::claims::{padded, Claims};

pub(super) fn reduce(
    at: &At,
    x: usize,
    wi: usize,
    bias: Option<usize>,
    geom: &ConvGeom,
    pending: Vec<Vec<E>>,
    claims: &mut Claims,
    t: &mut ProverTranscript,
) {
    let (g, w, ot) = (at.g, at.w, at.out());
    let xt = &g.tensors[x];
    let xv: Vec<F> = w.values[x].iter().map(|&v| f_from_i64(v)).collect();
    let xpad: Vec<E> = padded(g, w, Operand::Tensor(x))
        .into_iter()
        .map(E::from)
        .collect();
    let lj = zkgrad_poly::log2_ceil(geom.j_len());
    for r in pending {
        let (r_p, r_co) = r.split_at(ot.log_cols());
        if let Some(b) = bias {
            t.write_e(b"conv/bias", eval_mle_base(&at.weight(b), r_co));
            claims.weights.push((b, r_co.to_vec()));
        }
        let eq_p = eq_table(r_p);
        let mut a = vec![E::ZERO; 1 << lj];
        geom.for_each_entry(|p, j, i| a[j] += eq_p[p] * xv[i]);
        let bvec = at.weight_rows(wi, &eq_table(r_co));
        let claim: E = a.iter().zip(&bvec).map(|(x, y)| *x * *y).sum();
        let mut oracle = ProductOracle::new(vec![a, bvec], 2, |v: &[E]| v[0] * v[1]);
        let rho = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        let f = oracle.final_values();
        t.write_e(b"conv/x", f[0]);
        t.write_e(b"conv/w", f[1]);
        let mut wp = rho.clone();
        wp.extend_from_slice(r_co);
        claims.weights.push((wi, wp));
        let eq_rho = eq_table(&rho);
        let mut wt = vec![E::ZERO; xpad.len()];
        geom.for_each_entry(|p, j, i| wt[xt.pad_index(i)] += eq_p[p] * eq_rho[j]);
        let claim: E = wt.iter().zip(&xpad).map(|(a, b)| *a * *b).sum();
        let mut oracle = ProductOracle::new(vec![wt, xpad.clone()], 2, |v: &[E]| v[0] * v[1]);
        let sigma = zkgrad_sumcheck::prove(&mut oracle, claim, t);
        t.write_e(b"conv/in", oracle.final_values()[1]);
        claims.on_tensor(x, sigma);
    }
}
