"""A console front end: the whole edit flow in a terminal, like errbot's text backend."""
