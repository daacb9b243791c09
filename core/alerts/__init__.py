"""Alerting: rule types, stream and window evaluation, the alert lifecycle, the outbox and its dispatcher.

See docs/alerts.md for the semantics (complete windows, fingerprints, cooldown, exactly-once delivery).
"""
