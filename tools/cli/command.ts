/**
 * The shape of one `upheal-sync` subcommand (SPEC §7) and the exit statuses every command uses.
 * A command parses its own arguments and returns its exit status; it never calls process.exit, so
 * the CLI entry can close what is open and commands stay testable.
 */

/** Exit statuses (SPEC §7). */
export const EXIT = {
  /** Everything asked for succeeded. */
  ok: 0,
  /** Some records failed; the report says which. */
  someFailed: 1,
  /** Usage or configuration error. */
  usage: 2,
} as const;

/** An exit status from EXIT. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One subcommand: `upheal-sync <name> …`. */
export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text (usage line, options). */
  readonly usage: string;
  /** Runs with the arguments after the command name; resolves with the exit status. */
  run(args: string[]): Promise<number>;
}

/** Where the CLI writes; injected so tests can capture it. */
export interface CliOutput {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** The process's own stdout and stderr. */
export const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};
