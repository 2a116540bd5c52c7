/**
 * The shape of one `upheal-sync` subcommand and the exit statuses every command uses.
 * A command parses its own arguments and returns its exit status; it never calls process.exit, so
 * the CLI entry can close what is open and commands stay testable.
 */

/** Exit statuses. */
export const EXIT = {
  /** Everything asked for succeeded. */
  ok: 0,
  /** Some records failed (the report says which), or a check failed. */
  someFailed: 1,
  /** Usage or configuration error. */
  usage: 2,
} as const;

/** An exit status from EXIT. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Where the CLI writes: results on stdout, progress and logs on stderr. */
export interface CliOutput {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** The process's own stdout and stderr. */
export const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** What the dispatcher hands every command: the environment of the target and the output. */
export interface CliContext {
  /** The environment, with the variables of `--stage` filled in (set variables win). */
  readonly env: NodeJS.ProcessEnv;
  readonly output: CliOutput;
}

/** The context of a command run outside the dispatcher: this process's environment and output. */
export const processContext = (): CliContext => ({ env: process.env, output: processOutput });

/** One subcommand: `upheal-sync <name> …`. */
export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full `--help` text (usage line, options). */
  readonly usage: string;
  /** True when the command acts on a stage's resources (its first stderr line names the stage). */
  readonly targeted?: boolean;
  /** Runs with the arguments after the command name; resolves with the exit status. */
  run(args: string[], context?: CliContext): Promise<number>;
}
