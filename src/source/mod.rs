//! The OpenCode side: SSE connection, decoding, resync over HTTP.
