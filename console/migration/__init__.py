"""Live migration: the tracker (start, follow, cancel), pre-flight and placement of a move,
host drain, progress figures, re-reading after a restart (outcome, history) and adopting
migrations started outside this console."""
