//! # rampart-store
//!
//! The ban store of rampart guard: SQLite with a schema version and migrations.
