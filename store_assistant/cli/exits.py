"""The command line's exit codes: 0 done; 1 the model failed (the message says why); 2 bad input
or settings (an unknown SKU, a rejected inventory edit, a malformed file), nothing written."""

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
