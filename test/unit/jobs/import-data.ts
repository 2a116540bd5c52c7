/**
 * Small import files for the job tests: providers and clients with fake data (example.com
 * addresses), some clients with several providers, and invalid rows, rendered as NDJSON and as
 * CSV of the same records.
 */

/** One flat import record (NDJSON object / CSV row). */
export type FlatRecord = Record<string, string | string[]>;

/** Provider `n` (`p-<n>`). */
export function provider(n: number): FlatRecord {
  return {
    kind: 'provider',
    partnerUserId: `p-${n}`,
    email: `provider.${n}@example.com`,
    firstName: 'Pat',
    lastName: `Provider${n}`,
  };
}

/** Client `n` (`c-<n>`) of the given providers (first = primary). */
export function client(n: number, providers: readonly number[]): FlatRecord {
  return {
    kind: 'client',
    partnerUserId: `c-${n}`,
    email: `client.${n}@example.com`,
    firstName: 'Cam',
    lastName: `Client${n}`,
    providerPartnerUserIds: providers.map((p) => `p-${p}`),
  };
}

/** A test export: `providers` providers, `clients` clients (every 4th with two providers). */
export function exportOf(providers: number, clients: number): FlatRecord[] {
  const records: FlatRecord[] = [];
  for (let n = 1; n <= providers; n += 1) records.push(provider(n));
  for (let n = 1; n <= clients; n += 1) {
    const primary = ((n - 1) % Math.max(providers, 1)) + 1;
    const second = (primary % Math.max(providers, 1)) + 1;
    records.push(client(n, n % 4 === 0 && second !== primary ? [primary, second] : [primary]));
  }
  return records;
}

/** Rows that fail validation: a missing email of a provider, an unknown kind, a duplicate id. */
export const INVALID_RECORDS: readonly FlatRecord[] = [
  { kind: 'provider', partnerUserId: 'p-bad', firstName: 'No', lastName: 'Email' },
  { kind: 'therapist', partnerUserId: 'x-1' },
  provider(1),
];

/** NDJSON text of `records`. */
export function toNdjson(records: readonly FlatRecord[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}

/** CSV columns of the test records. */
const CSV_COLUMNS = [
  'kind',
  'partnerUserId',
  'email',
  'firstName',
  'lastName',
  'providerPartnerUserIds',
] as const;

/** CSV text of `records` (lists joined with `;`), same lines as the NDJSON after the header. */
export function toCsv(records: readonly FlatRecord[]): string {
  const cell = (value: string | string[] | undefined) =>
    value === undefined ? '' : Array.isArray(value) ? value.join(';') : value;
  const lines = records.map((record) =>
    CSV_COLUMNS.map((column) => cell(record[column])).join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...lines].join('\n')}\n`;
}
