#!/usr/bin/env node
/**
 * `upheal-sync`, the operator's command line (SPEC §7). Runs under Node 24's type stripping, no
 * build step. Every command lives in tools/cli/commands/; this file only sets the exit status.
 */
import { main } from '#tools/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
