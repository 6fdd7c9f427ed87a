"""Faust agents: decode -> call the logradar engine -> write tables and topics."""
