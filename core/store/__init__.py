"""Every read and write of the database. Keyword-only functions taking a ``session``."""
