//! What the load tool (`ocbar-load`, the binary of this package) shares with the criterion
//! benchmarks of `ocbar` (`benches/`, a dev-dependency): the generator of realistic OpenCode
//! event frames, so that both measure the same traffic.

pub mod frames;
