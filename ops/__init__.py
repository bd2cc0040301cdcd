"""Operator tools: the ops dashboard (ops.web) and the command line (python -m ops)."""
