//! Stage: across firms (LANGUAGE.md section 7).
