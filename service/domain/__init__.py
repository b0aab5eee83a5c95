"""Pure clinical and access rules: no framework, no I/O, no clock reads."""
