#!/usr/bin/env node
// Reserved for the card-orders CLI, which arrives with the order saga.
process.stderr.write('card-orders: the command-line interface is not available yet\n');
process.exitCode = 1;
