"""The lock engine: a fair, crash-proof queue that admits units one at a time or as capacity allows.

queue       acquire and hold a lock: take a ticket, wait in the kernel for the one ahead, release
tickets     the queue's files (ticket, release FIFO, sequence): the one place that writes, reads,
lists them admission   a lock with slots or a memory budget: who may start beside the holders, in
arrival order capacity    slots, the memory budget and a unit's expected peak (learned from the
journal) markers     nesting: the SEQ_HOOKS_HOLDER markers, verified, and the child queue a nested
call joins cycles      named locks never deadlock: a waiting cycle is found in the queue files and
broken takeover    a dead owner's ticket: what its run left running is ended before the queue moves
on

No imports here: `run --no-lock` must not pay for the lock.
"""
