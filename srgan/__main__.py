"""`python -m srgan` is the `srgan` command (srgan.cli): run from a clone, it uses that clone's code."""

from srgan.cli import main

main()
