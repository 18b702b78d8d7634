"""The process engine: start one command, supervise its whole tree, leave nothing behind.

spawn       the one way seq-hooks starts a process
supervisor  runs a command to the end of its last descendant: limits, escalation, the outcome
treewatch   the tree as the supervisor sees it: members, memory, count, limits passed
proctree    process trees from /proc (psutil elsewhere): descendants, memory, run tokens
rungroup    a cgroup of the run's own where the machine allows: one read counts the tree
jobcontrol  signals in (forwarded, woken poll) and the terminal handed to the command
pump        the command's output to the terminal, the log and --json
machine     facts about this machine: cgroups, usable CPUs, memory
meminfo     the machine's memory from /proc/meminfo: the one reader
threadcaps  the thread and worker caps of common tools for `threads = N`
"""
