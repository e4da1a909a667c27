"""Local set-up for `make run` and `make test`: finds or starts what the project needs.

Nothing here is imported by the running system; it only prepares a machine and starts
processes, so it may use the standard library and subprocesses alone.
"""
