"""Test support: real services and data the tests share (no mocks)."""
