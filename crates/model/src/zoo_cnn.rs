//! Workload C of ../shared/bench/WORKLOADS.md: the CNN layer suite, its composites and the real
//! model shapes, built with weights like PyTorch's default init (U(−1/√fan_in, 1/√fan_in)) from
//! a fixed seed.

use crate::build::{self, Window};
use crate::graph::{Graph, Op};
use crate::zoo::uniform;
use zkgrad_circuit::table::ActKind;

/// A graph under construction with a seed for its weights.
pub struct Net {
    pub g: Graph,
    seed: u64,
    /// The value layers are appended to.
    pub cur: usize,
}

impl Net {
    pub fn new(input_shape: Vec<usize>, seed: u64) -> Self {
        Self {
            g: Graph {
                input_name: "input".into(),
                input_shape,
                nodes: Vec::new(),
                output: 0,
                output_parts: Vec::new(),
            },
            seed,
            cur: 0,
        }
    }

    fn shape(&self) -> Vec<usize> {
        self.g.shape(self.cur).to_vec()
    }

    fn draw(&mut self, n: usize, bound: f64) -> Vec<f64> {
        self.seed = self.seed.wrapping_add(1);
        uniform(self.seed, n)
            .into_iter()
            .map(|v| v * bound)
            .collect()
    }

    fn push(&mut self, name: &str, op: Op, shape: Vec<usize>) -> &mut Self {
        self.cur = build::push(&mut self.g, name, op, shape);
        self
    }

    /// `Conv2d(c_in → c_out, k×k, stride, padding, groups)` with a bias.
    pub fn conv(
        &mut self,
        c_out: usize,
        k: usize,
        stride: usize,
        pad: usize,
        groups: usize,
    ) -> &mut Self {
        let s = self.shape();
        let (c_in, h, w) = (s[1], s[2], s[3]);
        let fan_in = c_in / groups * k * k;
        let bound = 1.0 / (fan_in as f64).sqrt();
        let weight = self.draw(c_out * fan_in, bound);
        let bias = Some(self.draw(c_out, bound));
        let name = format!("conv{}", self.g.nodes.len() + 1);
        // The suite's geometries always fit.
        if let Some(win) = Window::square([h, w], k, stride, pad) {
            if let Ok(v) = build::conv(
                &mut self.g,
                &name,
                self.cur,
                &weight,
                bias,
                c_out,
                groups,
                &win,
            ) {
                self.cur = v;
            }
        }
        self
    }

    /// Inference BatchNorm with non-trivial statistics: `s·x + t` per channel.
    /// Folded into the convolution right before it, as exporters fold it.
    pub fn batch_norm(&mut self) -> &mut Self {
        let c = self.shape()[1];
        let s: Vec<f64> = self.draw(c, 0.5).into_iter().map(|v| 1.0 + v).collect();
        let t = self.draw(c, 0.2);
        let name = format!("bn{}", self.g.nodes.len() + 1);
        if let Ok(v) = build::batch_norm(&mut self.g, &name, self.cur, &s, t, true) {
            self.cur = v;
        }
        self
    }

    pub fn act(&mut self, kind: ActKind) -> &mut Self {
        let s = self.shape();
        let x = self.cur;
        self.push(&format!("{kind:?}").to_lowercase(), Op::Act { x, kind }, s)
    }

    /// SiLU as exporters write it: `x·σ(x)`.
    pub fn silu(&mut self) -> &mut Self {
        let s = self.shape();
        let x = self.cur;
        self.push(
            "silu/sigmoid",
            Op::Act {
                x,
                kind: ActKind::Sigmoid,
            },
            s.clone(),
        );
        let sg = self.cur;
        self.push("silu", Op::Mul { a: x, b: sg }, s)
    }

    /// The polynomial activation `x² + x`.
    pub fn poly(&mut self) -> &mut Self {
        let s = self.shape();
        let x = self.cur;
        self.push("poly/square", Op::Mul { a: x, b: x }, s.clone());
        let sq = self.cur;
        self.push("poly", Op::Add { a: sq, b: x }, s)
    }

    pub fn max_pool(&mut self, k: usize) -> &mut Self {
        let s = self.shape();
        if let Some(win) = Window::square([s[2], s[3]], k, k, 0) {
            self.cur = build::pool(&mut self.g, "maxpool", self.cur, &win, true);
        }
        self
    }

    pub fn avg_pool(&mut self, k: usize) -> &mut Self {
        let s = self.shape();
        if let Some(win) = Window::square([s[2], s[3]], k, k, 0) {
            self.cur = build::pool(&mut self.g, "avgpool", self.cur, &win, false);
        }
        self
    }

    pub fn global_avg_pool(&mut self) -> &mut Self {
        self.cur = build::global_avg_pool(&mut self.g, "gap", self.cur);
        self
    }

    pub fn layer_norm(&mut self) -> &mut Self {
        let d = self.shape().last().copied().unwrap_or(1);
        let gamma: Vec<f64> = self.draw(d, 0.5).into_iter().map(|v| 1.0 + v).collect();
        let beta = Some(self.draw(d, 0.2));
        self.cur = build::layer_norm(&mut self.g, "layernorm", self.cur, &gamma, beta, 1e-5);
        self
    }

    pub fn flatten(&mut self) -> &mut Self {
        let n: usize = self.shape().iter().product();
        let x = self.cur;
        self.push("flatten", Op::View { x }, vec![1, n])
    }

    pub fn linear(&mut self, out: usize) -> &mut Self {
        let s = self.shape();
        let inf = s.last().copied().unwrap_or(1);
        let bound = 1.0 / (inf as f64).sqrt();
        let w = self.draw(inf * out, bound);
        let bias = Some(self.draw(out, bound));
        let mut shape = s;
        if let Some(l) = shape.last_mut() {
            *l = out;
        }
        let x = self.cur;
        let name = format!("fc{}", self.g.nodes.len() + 1);
        self.push(
            &name,
            Op::Linear {
                x,
                w,
                bias,
                in_features: inf,
                out_features: out,
            },
            shape,
        )
    }

    /// A residual block of ResNet-18 (CIFAR form): conv-BN-ReLU-conv-BN + shortcut, ReLU.
    pub fn basic_block(&mut self, c_out: usize, stride: usize) -> &mut Self {
        let input = self.cur;
        let c_in = self.shape()[1];
        self.conv(c_out, 3, stride, 1, 1)
            .batch_norm()
            .act(ActKind::Relu);
        self.conv(c_out, 3, 1, 1, 1).batch_norm();
        let main = self.cur;
        let shortcut = if stride != 1 || c_in != c_out {
            self.cur = input;
            self.conv(c_out, 1, stride, 0, 1).batch_norm();
            self.cur
        } else {
            input
        };
        let s = self.shape();
        self.push(
            "residual",
            Op::Add {
                a: main,
                b: shortcut,
            },
            s,
        );
        self.act(ActKind::Relu)
    }

    pub fn finish(&mut self) -> Graph {
        let mut g = self.g.clone();
        g.output = self.cur;
        g
    }
}

fn image(c: usize, h: usize, seed: u64) -> Net {
    Net::new(vec![1, c, h, h], seed)
}

/// A named model: name, description, builder.
pub type Entry = (&'static str, &'static str, fn() -> Graph);

/// The single-layer entries and composites of workload C, by name.
pub fn suite() -> Vec<Entry> {
    vec![
        ("relu", "ReLU on 1×16×32×32", || {
            image(16, 32, 1).act(ActKind::Relu).finish()
        }),
        ("silu", "SiLU (x·σ(x)) on 1×16×32×32", || {
            image(16, 32, 2).silu().finish()
        }),
        ("tanh", "Tanh on 1×16×32×32", || {
            image(16, 32, 3).act(ActKind::Tanh).finish()
        }),
        ("poly", "x² + x on 1×16×32×32", || {
            image(16, 32, 4).poly().finish()
        }),
        ("gelu", "GELU (erf) on 1×16×32×32", || {
            image(16, 32, 5).act(ActKind::Gelu).finish()
        }),
        ("maxpool", "MaxPool2d(2) on 1×16×32×32", || {
            image(16, 32, 6).max_pool(2).finish()
        }),
        ("avgpool", "AvgPool2d(2) on 1×16×32×32", || {
            image(16, 32, 7).avg_pool(2).finish()
        }),
        ("gap", "GlobalAveragePool on 1×16×32×32", || {
            image(16, 32, 8).global_avg_pool().finish()
        }),
        ("batchnorm", "BatchNorm2d(16) on 1×16×32×32", || {
            image(16, 32, 9).batch_norm().finish()
        }),
        ("dense", "Linear(1024, 256)", || {
            Net::new(vec![1, 1024], 10).linear(256).finish()
        }),
        (
            "conv-3-16",
            "Conv2d(3→16, 3×3, pad 1) on 1×3×32×32",
            || image(3, 32, 11).conv(16, 3, 1, 1, 1).finish(),
        ),
        (
            "conv-16-32",
            "Conv2d(16→32, 3×3, pad 1) on 1×16×32×32",
            || image(16, 32, 12).conv(32, 3, 1, 1, 1).finish(),
        ),
        (
            "conv-16-32-s2",
            "Conv2d(16→32, 3×3, stride 2, pad 1) on 1×16×32×32",
            || image(16, 32, 13).conv(32, 3, 2, 1, 1).finish(),
        ),
        (
            "dwconv-32",
            "depthwise Conv2d(32, 3×3, groups 32, pad 1) on 1×32×32×32",
            || image(32, 32, 14).conv(32, 3, 1, 1, 32).finish(),
        ),
        ("layernorm", "LayerNorm(256) on 1×64×256", || {
            Net::new(vec![1, 64, 256], 15).layer_norm().finish()
        }),
        ("linear-64", "Linear(64, 64)", || {
            Net::new(vec![1, 64], 16).linear(64).finish()
        }),
        ("linear-1024", "Linear(1024, 1024)", || {
            Net::new(vec![1, 1024], 17).linear(1024).finish()
        }),
        (
            "linear-4096x1024",
            "Linear(4096, 1024), 4.2M params",
            || Net::new(vec![1, 4096], 18).linear(1024).finish(),
        ),
        (
            "cnn-relu",
            "[Conv 3→16, ReLU, MaxPool] [Conv 16→32, ReLU, MaxPool] Linear(2048, 10)",
            || {
                image(3, 32, 19)
                    .conv(16, 3, 1, 1, 1)
                    .act(ActKind::Relu)
                    .max_pool(2)
                    .conv(32, 3, 1, 1, 1)
                    .act(ActKind::Relu)
                    .max_pool(2)
                    .flatten()
                    .linear(10)
                    .finish()
            },
        ),
        (
            "cnn-mixed",
            "Conv-BN-ReLU, Conv-SiLU-AvgPool, Conv-Tanh-MaxPool, Linear(2048, 10)",
            || {
                image(3, 32, 20)
                    .conv(16, 3, 1, 1, 1)
                    .batch_norm()
                    .act(ActKind::Relu)
                    .conv(32, 3, 1, 1, 1)
                    .silu()
                    .avg_pool(2)
                    .conv(32, 3, 1, 1, 1)
                    .act(ActKind::Tanh)
                    .max_pool(2)
                    .flatten()
                    .linear(10)
                    .finish()
            },
        ),
        (
            "cnn-strided",
            "[Conv 3→16 s2, ReLU] [Conv 16→32 s2, ReLU] Linear(2048, 10)",
            || {
                image(3, 32, 21)
                    .conv(16, 3, 2, 1, 1)
                    .act(ActKind::Relu)
                    .conv(32, 3, 2, 1, 1)
                    .act(ActKind::Relu)
                    .flatten()
                    .linear(10)
                    .finish()
            },
        ),
        ("cnn-poly", "cnn-relu with x² + x in place of ReLU", || {
            image(3, 32, 22)
                .conv(16, 3, 1, 1, 1)
                .poly()
                .max_pool(2)
                .conv(32, 3, 1, 1, 1)
                .poly()
                .max_pool(2)
                .flatten()
                .linear(10)
                .finish()
        }),
    ]
}

/// LeNet-5 on 1×28×28 (ReLU, max pooling).
pub fn lenet5() -> Graph {
    image(1, 28, 30)
        .conv(6, 5, 1, 2, 1)
        .act(ActKind::Relu)
        .max_pool(2)
        .conv(16, 5, 1, 0, 1)
        .act(ActKind::Relu)
        .max_pool(2)
        .flatten()
        .linear(120)
        .act(ActKind::Relu)
        .linear(84)
        .act(ActKind::Relu)
        .linear(10)
        .finish()
}

/// A CIFAR-10 CNN of 262,714 parameters: two conv pairs with max pooling, a 48-unit hidden layer.
pub fn cifar_cnn() -> Graph {
    image(3, 32, 31)
        .conv(32, 3, 1, 1, 1)
        .act(ActKind::Relu)
        .conv(32, 3, 1, 1, 1)
        .act(ActKind::Relu)
        .max_pool(2)
        .conv(64, 3, 1, 1, 1)
        .act(ActKind::Relu)
        .conv(64, 3, 1, 1, 1)
        .act(ActKind::Relu)
        .max_pool(2)
        .flatten()
        .linear(48)
        .act(ActKind::Relu)
        .linear(10)
        .finish()
}

/// VGG-16 at CIFAR size (13 convolutions with ReLU, 5 max pools, Linear(512, 10)).
pub fn vgg16() -> Graph {
    let mut n = image(3, 32, 32);
    for c in [
        64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
    ] {
        if c == 0 {
            n.max_pool(2);
        } else {
            n.conv(c, 3, 1, 1, 1).act(ActKind::Relu);
        }
    }
    n.flatten().linear(10).finish()
}

/// ResNet-18 at CIFAR size (3×3 stem, four stages of two basic blocks, global average pool).
pub fn resnet18() -> Graph {
    let mut n = image(3, 32, 33);
    n.conv(64, 3, 1, 1, 1).batch_norm().act(ActKind::Relu);
    for (c, s) in [(64, 1), (128, 2), (256, 2), (512, 2)] {
        n.basic_block(c, s).basic_block(c, 1);
    }
    n.global_avg_pool().flatten().linear(10).finish()
}

/// The real models of workload C, by name.
pub fn real_models() -> Vec<Entry> {
    vec![
        ("lenet5", "LeNet-5 on 1×28×28", lenet5),
        ("cifar-cnn-264k", "CIFAR-10 CNN, 262,714 params", cifar_cnn),
        ("resnet18", "ResNet-18 (CIFAR, 3×32×32)", resnet18),
        ("vgg16", "VGG-16 (CIFAR, 3×32×32)", vgg16),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_shapes_and_parameter_counts() {
        for (name, _, build) in suite() {
            let g = build();
            let out = g.forward_f64(&uniform(1, g.n_inputs()));
            assert!(out[g.output].iter().all(|v| v.is_finite()), "{name}");
            assert!(g.output > 0, "{name}");
        }
        assert_eq!(cifar_cnn().n_params(), 262_714);
        assert_eq!(lenet5().n_params(), 61_706);
    }
}
