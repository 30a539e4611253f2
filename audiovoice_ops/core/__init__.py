"""The avops library: everything a command needs, with no printing."""
