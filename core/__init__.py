"""Loglytics Live core: settings, storage, connectors, pipeline. Knows nothing of Streamlit or APScheduler."""

__version__ = "0.1.0"
