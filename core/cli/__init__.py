"""The ``loglytics`` command line."""
