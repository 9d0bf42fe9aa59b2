//! Renderers: pure functions from a snapshot to one bar's line.
