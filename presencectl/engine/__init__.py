"""The engine: the one frame path, the live session, replay and capture tools over transports."""
