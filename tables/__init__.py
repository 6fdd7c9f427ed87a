"""Faust tables holding logradar's window and detector state (changelog-backed)."""
