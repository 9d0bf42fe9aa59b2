//! Notification channels: OpenCode TUI toast, desktop (D-Bus), tmux, a user command.
