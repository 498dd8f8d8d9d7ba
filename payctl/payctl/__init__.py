"""payctl: the one command-line entry point, and the embedded stack it runs."""
