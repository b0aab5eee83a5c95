"""One function per thing a user does; each runs in one unit of work."""
