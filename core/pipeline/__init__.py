"""Ingest pipeline: normalize -> COPY via staging -> INSERT … ON CONFLICT -> rollup, cursor in the same transaction."""
