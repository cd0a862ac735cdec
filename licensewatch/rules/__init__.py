"""Pure rules: frames and values in, frames and values out; no clock, no I/O."""
