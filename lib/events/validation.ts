/**
 * Turns zod failures into our own `ValidationError` (STYLE §3): one issue per field, named by its
 * dotted path (`data.email`, `data.providerPartnerUserIds.1`), with a reason that says what is
 * wrong without ever echoing the value — inputs here are clinical data. An unknown key is not
 * echoed either (a key can be an email): it is named by a short digest, `(unknown key 1a2b3c4d)`,
 * unless it is one of the contract's own field names (a client field sent on a provider).
 */
import { createHash } from 'node:crypto';
import type * as z from 'zod';
import type { FieldIssue } from '#lib/errors.ts';
import { ValidationError } from '#lib/errors.ts';
import { CLIENT_FIELD_NAMES, PROVIDER_FIELD_NAMES } from './user-fields.ts';

/** Field name used when the whole input (not one of its fields) is wrong. */
export const ROOT_FIELD = '(root)';

/**
 * Field names of the contract (event envelope, import record, user fields): our own vocabulary,
 * so an unexpected one (a client field on a provider) is named as it is.
 */
const CONTRACT_FIELD_NAMES: ReadonlySet<string> = new Set([
  'eventId',
  'type',
  'occurredAt',
  'partnerUserId',
  'data',
  'kind',
  ...PROVIDER_FIELD_NAMES,
  ...CLIENT_FIELD_NAMES,
]);

/** Hex digits of an unknown key's SHA-256 shown in its field name: enough to tell keys apart. */
const KEY_DIGEST_HEX_DIGITS = 8;

/** Words for zod's type names in reasons ("must be a string"). */
const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  date: 'a date',
  null: 'null',
};

/** What a zod issue carries that the error map reads (zod's raw issue, loosely typed). */
type RawIssue = z.core.$ZodRawIssue;

/**
 * Per-parse zod error map giving value-free reasons for zod's built-in checks. Schemas that need
 * a more specific reason set their own message, which takes precedence over this map.
 */
export function reasonFor(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return issue.minimum === 1
          ? 'must not be empty'
          : `must have at least ${issue.minimum} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `must have at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}`;
      }
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must have at most ${issue.maximum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') {
        return `must have at most ${issue.maximum} items`;
      }
      return `must be at most ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'email'
        ? 'must be a valid email address'
        : `must be a valid ${issue.format}`;
    case 'invalid_union':
      if ('discriminator' in issue && typeof issue.discriminator === 'string') {
        const input = issue.input as Record<string, unknown> | undefined;
        if (input?.[issue.discriminator] === undefined) return 'is required';
        const options = 'options' in issue && Array.isArray(issue.options) ? issue.options : [];
        return `is not a known value; expected one of: ${options.map(String).join(', ')}`;
      }
      return 'does not match any accepted shape';
    case 'unrecognized_keys':
      return 'is not a known field';
    default:
      return 'is invalid';
  }
}

/** Joins a zod path into our dotted field name; the empty path is the input itself. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.length === 0 ? ROOT_FIELD : path.map(String).join('.');
}

/**
 * The name an unknown key is reported under: the first eight hex digits of the SHA-256 of its
 * UTF-8 bytes (`printf %s KEY | sha256sum | cut -c1-8`), never the key itself, which may be
 * clinical data.
 */
export function unknownKeyName(key: string): string {
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  return `(unknown key ${digest.slice(0, KEY_DIGEST_HEX_DIGITS)})`;
}

/** The field name of an unknown key under a parent path (`data` + key → `data.(unknown key …)`). */
function unknownKeyField(parent: readonly PropertyKey[], key: string): string {
  const shown = CONTRACT_FIELD_NAMES.has(key) ? key : unknownKeyName(key);
  return parent.length === 0 ? shown : `${fieldName(parent)}.${shown}`;
}

/**
 * Converts any zod error into our `ValidationError`: one issue per field (the first problem zod
 * found there), unknown keys each named by their parent's path and a digest of the key. Every other issue keeps its message,
 * so parse with `reasonFor` (or use `parseWith`) to get value-free reasons.
 */
export function toValidationError(error: z.ZodError, location?: string): ValidationError {
  const issues = new Map<string, FieldIssue>();
  const add = (field: string, reason: string) => {
    if (!issues.has(field)) issues.set(field, { field, reason });
  };
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add(unknownKeyField(issue.path, key), 'is not a known field');
    } else {
      add(fieldName(issue.path), issue.message);
    }
  }
  return new ValidationError([...issues.values()], location);
}

/** Parses `input` with `schema`, throwing a `ValidationError` (with `location`) on failure. */
export function parseWith<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  location?: string,
): z.output<Schema> {
  const result = schema.safeParse(input, { error: reasonFor });
  if (!result.success) throw toValidationError(result.error, location);
  return result.data;
}
