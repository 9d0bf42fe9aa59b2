//! The bodies of ocbar's fuzz targets and the checks they make (see README "Reliability and
//! security"). Each `fuzz_targets/*.rs` is one line calling `run` of its module, so a
//! finding can be replayed from a plain test as well.

pub mod bars;
pub mod model;
pub mod protocol;
pub mod render;
pub mod sse;
