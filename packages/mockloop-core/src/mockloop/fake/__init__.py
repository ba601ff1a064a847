"""Data from schemas: deterministic, valid, and realistic by field name."""

from mockloop.fake.faker import SchemaFaker

__all__ = ["SchemaFaker"]
