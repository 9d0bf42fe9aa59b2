//! The session model: a pure function from events to state and effects. No I/O, no clock:
//! the caller passes `now` in, so every rule is unit-testable and recorded streams replay
//! deterministically.

pub mod effect;
pub mod event;
pub mod persist;
pub mod remote;
mod session;
mod state;

pub use state::{ModelConfig, Place, ResolveError, State};

#[cfg(test)]
mod tests;
