"""I/O-free protocol parsers: bytes or text in, packets and events out (no sockets, no clock reads)."""
