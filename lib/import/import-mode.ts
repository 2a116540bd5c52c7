/**
 * How an import sends the creates of users it has no mapping for (docs/limits.md, "Import
 * modes"): `check-first` checks each email before its create (the guide's flow: two calls per new
 * user); `create-first` sends the create at once and checks only when Upheal answers "duplicate"
 * (one call per new user, one more than check-first per user Upheal already has); `auto` starts
 * create-first and goes on check-first while the observed share of users Upheal already has is
 * above the break-even. The identity rules hold in every mode (`lib/sync/identity.ts`).
 */
import * as z from 'zod';

/** The import modes. */
export const IMPORT_MODES = {
  checkFirst: 'check-first',
  createFirst: 'create-first',
  auto: 'auto',
} as const;

/** One import mode. */
export type ImportMode = (typeof IMPORT_MODES)[keyof typeof IMPORT_MODES];

/** The mode of an import that names none: the guide's flow. */
export const DEFAULT_IMPORT_MODE: ImportMode = IMPORT_MODES.checkFirst;

/** An import mode, as the control message and the CLI take it. */
export const ImportModeSchema = z.enum([
  IMPORT_MODES.checkFirst,
  IMPORT_MODES.createFirst,
  IMPORT_MODES.auto,
]);

/**
 * The share of users Upheal already has above which create-first costs more calls than
 * check-first. Per unmapped user, create-first saves the check of a new user (1 call) and spends
 * a refused create on a user Upheal has (1 call): with a share f of the latter it saves
 * (1 − f) − f = 1 − 2f calls per user, which is positive below f = 1/2.
 */
export const AUTO_BREAK_EVEN_SHARE = 0.5;

/**
 * Users of the current phase settled as created or linked before `auto` trusts the observed
 * share: with fewer, a handful of users Upheal has (a practice's first rows, say) would switch a
 * mostly new import to the costlier mode.
 */
export const AUTO_MIN_SAMPLE = 30;

/** What `auto` decides on: the current phase's users created and linked so far. */
export interface ModeSample {
  readonly created: number;
  readonly linked: number;
}

/**
 * Pure: whether an `auto` import sends creates first now. Create-first until the sample is large
 * enough, then while the share of linked users (found in Upheal) is at most the break-even.
 */
export function autoCreatesFirst(sample: ModeSample): boolean {
  const seen = sample.created + sample.linked;
  if (seen < AUTO_MIN_SAMPLE) return true;
  return sample.linked / seen <= AUTO_BREAK_EVEN_SHARE;
}

/** Parses a mode from a message attribute; anything else (or nothing) is the default. */
export function importModeOf(value: string | undefined): ImportMode {
  const parsed = ImportModeSchema.safeParse(value);
  return parsed.success ? parsed.data : DEFAULT_IMPORT_MODE;
}
