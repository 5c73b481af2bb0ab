//! What a run holds in memory before it spills to disk ([`Memory`]), and
//! where it spills ([`Spill`]).

use std::path::PathBuf;

/// What a run holds in memory before spilling to disk, in bytes. A run
/// needs about this much plus what the rows being read take (some 100 MiB),
/// whatever the size of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// Decisions, as stored until they are written.
    pub decisions: usize,
    /// The index of firms by key.
    pub index: usize,
    /// Candidates of policies settled across firms and their results (all
    /// policies together).
    pub settle: usize,
    /// Each sort within one policy's settlement (with more than two
    /// threads, shared out among them: policies settle side by side).
    pub work: usize,
    /// Rejects held until the file is read, and apart the keys of rejected
    /// rows.
    pub rejects: usize,
}

const MIB: usize = 1 << 20;

impl Default for Memory {
    fn default() -> Memory {
        Memory::within(DEFAULT_MEMORY)
    }
}

/// What [`Memory::default`] shares out.
pub const DEFAULT_MEMORY: usize = 768 * MIB;

impl Memory {
    /// Limits that add up to about `total` (three settlement sorts at once
    /// and both reject limits counted in), shared out in fixed
    /// proportions, none below 1 MiB.
    pub fn within(total: usize) -> Memory {
        let part = |n: usize| (total / 96 * n).max(MIB);
        Memory {
            decisions: part(32),
            index: part(12),
            settle: part(28),
            work: part(4),
            rejects: part(6),
        }
    }
}

/// Where a run spills what does not fit in memory.
#[derive(Clone, Debug)]
pub struct Spill {
    /// A directory for the spill files (removed when the run ends).
    pub dir: PathBuf,
    pub memory: Memory,
}
