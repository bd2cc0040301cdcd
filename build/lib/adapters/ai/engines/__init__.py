"""The built-in engines; each module defines a SPEC for the registry."""
