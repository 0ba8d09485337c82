"""Pure dedup rules (DESIGN.md §3): no I/O, so every decision can be tested exhaustively."""
