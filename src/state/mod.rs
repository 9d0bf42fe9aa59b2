//! The session model: a pure function from events to state and effects. No I/O, no clock.

pub mod effect;
pub mod event;
