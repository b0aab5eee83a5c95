"""The console's chart pages."""
