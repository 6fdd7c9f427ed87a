"""logradar: turn raw application logs on Kafka into windowed counts, alerts and metrics.

This package is the framework-free engine: settings, parsing, window maths,
detectors, alert model and the CLI. It imports no Faust; ``streams``,
``tables`` and ``agents`` wire it into a Faust worker.
"""

__version__ = "0.1.0"
