"""Detectors: pure functions of events and closed windows, no I/O, no wall clock."""
