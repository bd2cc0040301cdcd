"""AI engines: a registry keyed by job_type, each engine run in a sandboxed child process."""
