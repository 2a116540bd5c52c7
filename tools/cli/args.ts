/**
 * Argument parsing shared by the commands: node's parseArgs in strict mode, with its errors (an
 * unknown flag, a missing value) turned into a usage error that names the flag, so the dispatcher
 * answers with exit status 2 and one line instead of a stack trace.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { ValidationError } from '#lib/errors.ts';

/** The parsed flags and positionals. */
export interface ParsedArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** The flag named in one of parseArgs' messages (`Unknown option '--x'`), or `arguments`. */
function flagOf(message: string): string {
  return /'(-[^']*)'/.exec(message)?.[1] ?? 'arguments';
}

/** Parses `args` strictly against `options`; a usage error names the offending flag. */
export function parseFlags(
  args: readonly string[],
  options: ParseArgsOptionsConfig,
  allowPositionals = true,
): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    // node's message may go on with advice about `--`; its first sentence names the problem.
    const message = (error as Error).message.split(/\n|\. /)[0] ?? 'invalid arguments';
    throw new ValidationError([{ field: flagOf(message), reason: message.replace(/\.$/, '') }]);
  }
}

/** A string flag's value, or undefined. */
export function stringFlag(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A boolean flag's value (false when absent). */
export function booleanFlag(parsed: ParsedArgs, name: string): boolean {
  return parsed.values[name] === true;
}

/** A positive integer flag; a usage error naming it otherwise. */
export function positiveIntFlag(parsed: ParsedArgs, name: string): number | undefined {
  const raw = stringFlag(parsed, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ValidationError([{ field: `--${name}`, reason: 'must be a positive integer' }]);
  }
  return value;
}
