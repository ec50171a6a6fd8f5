"""The wiring floor: what a container builds once (runtime) and the operator
commands (cli). Nothing below it knows how the pieces are put together."""
