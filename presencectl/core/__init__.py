"""The pure core: no sockets, no files, no threads, no clock reads, no printing.

Everything here is a plain function over data, so it is tested without I/O.
"""
