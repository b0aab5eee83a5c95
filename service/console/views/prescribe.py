"""The console's prescribe pages."""
