//! The import functions, one module per op family. Each function has the shape
//! [`ImportFn`](crate::registry::ImportFn): it reads its node through [`NodeCx`](crate::node::NodeCx),
//! adds nodes to the graph and returns what the node's output refers to.

pub(crate) mod activation;
pub(crate) mod constant;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod gather;
pub(crate) mod layout;
pub(crate) mod linear;
pub(crate) mod norm;
pub(crate) mod pool;
pub(crate) mod reduce;
