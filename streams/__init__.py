"""The Faust application: app factory, topics and wire records."""
