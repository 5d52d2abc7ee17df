"""Thin adapters between the outside world (files, sockets) and the pure core."""
