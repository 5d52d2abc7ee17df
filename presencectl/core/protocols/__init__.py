"""Every I/O-free protocol parser: bytes in, frames or requests out (no sockets, no clocks)."""
