"""arcsearch: ARC-AGI program search built on hotpipe."""
