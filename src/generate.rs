//! Synthetic firm files for a schema (seeded).
