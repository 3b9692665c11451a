"""hotpipe."""
