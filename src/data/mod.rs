//! Stage: data files to typed records and rejects (LANGUAGE.md sections 8 and 10).
