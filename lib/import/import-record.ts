/**
 * One record of an import file: a provider or a client, each with its `partnerUserId`
 * and the same fields partner events carry. Both file formats (NDJSON and CSV) decode a row into
 * a flat object first and validate it here, so they accept and reject exactly the same records.
 */
import * as z from 'zod';
import type { FieldIssue, ValidationError } from '#lib/errors.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import {
  CLIENT_FIELD_NAMES,
  ClientFieldsSchema,
  IdSchema,
  PROVIDER_FIELD_NAMES,
  ProviderFieldsSchema,
} from '#lib/events/user-fields.ts';
import { reasonFor, toValidationError } from '#lib/events/validation.ts';

/** The kinds of record an import file holds. */
export const RECORD_KINDS = { provider: 'provider', client: 'client' } as const;

/** A record kind. */
export type RecordKind = (typeof RECORD_KINDS)[keyof typeof RECORD_KINDS];

/** A validated import record. */
export type ImportRecord =
  | { kind: 'provider'; partnerUserId: string; fields: ProviderFields }
  | { kind: 'client'; partnerUserId: string; fields: ClientFields };

/** One parsed row: a record, or the reason it was rejected. `line` is the physical line it starts on. */
export type ImportRow =
  | { line: number; ok: true; record: ImportRecord }
  | { line: number; ok: false; partnerUserId?: string; kind?: RecordKind; error: ValidationError };

/** Every column (CSV) or key (NDJSON) a record may have, in the documented order. */
export const IMPORT_COLUMNS: readonly string[] = [
  ...new Set(['kind', 'partnerUserId', ...PROVIDER_FIELD_NAMES, ...CLIENT_FIELD_NAMES]),
];

/** Columns whose CSV cells hold a `;`-separated list. */
export const LIST_COLUMNS: readonly string[] = ['providerPartnerUserIds', 'defaultNoteTemplateIds'];

/** A flat row, discriminated on `kind`: the record's own keys next to the user's fields. */
const FlatRecordSchema = z.discriminatedUnion('kind', [
  ProviderFieldsSchema.extend({ kind: z.literal(RECORD_KINDS.provider), partnerUserId: IdSchema }),
  ClientFieldsSchema.extend({ kind: z.literal(RECORD_KINDS.client), partnerUserId: IdSchema }),
]);

/** Fields of the other kind only, for a clearer reason than "not a known field". */
const FIELDS_OF: Readonly<Record<RecordKind, ReadonlySet<string>>> = {
  provider: new Set(['kind', 'partnerUserId', ...PROVIDER_FIELD_NAMES]),
  client: new Set(['kind', 'partnerUserId', ...CLIENT_FIELD_NAMES]),
};

/** The result of validating one flat row. */
export type RecordResult =
  | { ok: true; record: ImportRecord }
  | { ok: false; partnerUserId?: string; kind?: RecordKind; issues: FieldIssue[] };

/** The row's `partnerUserId` when it is a valid id, so failures can still be attributed. */
function readableId(row: Record<string, unknown>): string | undefined {
  const result = IdSchema.safeParse(row.partnerUserId);
  return result.success ? result.data : undefined;
}

/**
 * Validates one decoded row (`{ kind, partnerUserId, ...fields }`). A field that belongs only to
 * the other kind is reported as not applying to this kind; reasons never echo values.
 */
export function toImportRecord(row: Record<string, unknown>): RecordResult {
  const result = FlatRecordSchema.safeParse(row, { error: reasonFor });
  if (result.success) {
    const { kind, partnerUserId, ...fields } = result.data;
    const record =
      kind === RECORD_KINDS.provider
        ? { kind, partnerUserId, fields: fields as ProviderFields }
        : { kind, partnerUserId, fields: fields as ClientFields };
    return { ok: true, record };
  }
  const kind = row.kind === 'provider' || row.kind === 'client' ? row.kind : undefined;
  const issues = toValidationError(result.error).issues.map((issue) =>
    kind && IMPORT_COLUMNS.includes(issue.field) && !FIELDS_OF[kind].has(issue.field)
      ? { field: issue.field, reason: `does not apply to a ${kind}` }
      : issue,
  );
  const partnerUserId = readableId(row);
  return {
    ok: false,
    issues,
    ...(partnerUserId === undefined ? {} : { partnerUserId }),
    ...(kind === undefined ? {} : { kind }),
  };
}
