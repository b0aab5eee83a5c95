"""The console's tapers pages."""
