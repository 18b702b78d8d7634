"""A working tree shared with other writers: a commit's stash that loses nobody's save
(docs/design.md)."""
