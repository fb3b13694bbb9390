"""The fault suite of issue 7 (see docs/RELIABILITY.md)."""
