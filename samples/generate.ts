/**
 * Generates the bundled sample data of the demo (`npm start`, SPEC §8) deterministically: run
 * `node samples/generate.ts` to rewrite the files next to it; a unit test checks the committed
 * files equal this output. All people are invented: fake surnames, `example.com` emails, 555
 * phone numbers, dates of birth from a seeded generator.
 *
 * - `import.ndjson` and `import.csv`: the same records (40 providers, 400 clients, some clients
 *   with 2–3 providers) plus `INVALID_ROWS`, each a plausible mistake, at fixed places.
 * - `existing-users.json`: providers already in Upheal, to seed the simulator with, so the import
 *   links them instead of creating them.
 * - `events.ndjson`: a burst of ongoing partner events about those users, `occurredAt` increasing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { csvHeader, csvLine } from '#lib/import/csv-writer.ts';
import { NOTE_IDENTIFIERS, PRONOUNS } from '#lib/upheal/schemas.ts';

/** Sizes and seed of the sample. */
export const SAMPLE_SIZE = {
  providers: 40,
  clients: 400,
  seed: 20261127,
} as const;

/** Partner ids of the deliberately invalid rows, with the field each one gets wrong. */
export const INVALID_ROWS = {
  'p-041': 'email',
  'p-042': 'noteIdentifier',
  'x-001': 'kind',
  'c-0010': 'partnerUserId',
  'c-0401': 'dateOfBirth',
  'c-0402': 'providerPartnerUserIds',
  'c-0403': 'pronoun',
  'c-0404': 'dateOfBirth',
} as const;

/** Partner ids of the providers that already exist in Upheal before the import. */
export const EXISTING_PROVIDER_IDS = [
  'p-002',
  'p-005',
  'p-009',
  'p-013',
  'p-017',
  'p-021',
  'p-026',
  'p-030',
  'p-034',
  'p-038',
] as const;

/** A flat import row, as the partner writes it. */
type Row = Record<string, unknown> & { kind: string; partnerUserId: string };

/** A small deterministic generator (mulberry32): the same seed gives the same sample. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    /** A number in [0, 1). */
    next,
    /** An integer in [min, max]. */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    /** One item of a list. */
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    /** True with probability `p`. */
    chance: (p: number) => next() < p,
  };
}

/** Plausible first names. */
const FIRST_NAMES = [
  'Avery',
  'Blake',
  'Casey',
  'Dana',
  'Eden',
  'Finley',
  'Gray',
  'Harper',
  'Indy',
  'Jordan',
  'Kai',
  'Logan',
  'Morgan',
  'Noa',
  'Oakley',
  'Parker',
  'Quinn',
  'Reese',
  'Sage',
  'Taylor',
  'Uma',
  'Val',
  'Wren',
  'Xen',
  'Yael',
  'Zion',
  'Ana',
  'Bo',
  'Chloé',
  'Dário',
] as const;

/** Surnames nobody has: the sample is obviously invented. */
const FAKE_SURNAMES = [
  'Testworth',
  'Mockridge',
  'Samplestone',
  'Dummington',
  'Fakely',
  'Placeholder',
  'Stubbs-Fixture',
  'Exampleton',
  "O'Fixture",
  'Lorem',
  'Ipsumova',
  'Demoseed',
  'Van Sandbox',
  'Nullberg',
  'Fauxley',
  'Pretendo',
  'Madeup',
  'Synthetica',
  'Notreal',
  'Fictione',
] as const;

/** Note templates of the fictional practice. */
const TEMPLATE_IDS = ['tpl-soap', 'tpl-dap', 'tpl-birp', 'tpl-intake'] as const;

/** Licences of the fictional providers. */
const LICENCES = ['LCSW', 'LMFT', 'LPC', 'PsyD', 'LMHC'] as const;

/** `value` with leading zeros to `width` digits. */
const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** A provider's partner id. */
const providerId = (index: number) => `p-${pad(index, 3)}`;

/** A client's partner id. */
const clientId = (index: number) => `c-${pad(index, 4)}`;

/** A sample email that can never reach anyone. */
function emailOf(first: string, last: string, id: string): string {
  const local = `${first}.${last}`
    .normalize('NFD')
    .replace(/[^A-Za-z.]/g, '')
    .toLowerCase();
  return `${local}.${id.replace('-', '')}@example.com`;
}

/** A date of birth between the given years. */
function dateOfBirth(random: ReturnType<typeof prng>, fromYear: number, toYear: number): string {
  return `${random.int(fromYear, toYear)}-${pad(random.int(1, 12), 2)}-${pad(random.int(1, 28), 2)}`;
}

/** Ten digits that look like an NPI (no checksum: Upheal does not verify it). */
function npi(random: ReturnType<typeof prng>): string {
  return `1${pad(random.int(0, 999_999_999), 9)}`;
}

/** Everything the generator produces. */
export interface Samples {
  /** The valid and invalid rows, in file order. */
  rows: Row[];
  /** The providers already in Upheal. */
  existingUsers: Record<string, unknown>[];
  /** The burst of ongoing partner events. */
  events: Record<string, unknown>[];
}

/** Builds the sample rows, existing users and events. */
export function buildSamples(): Samples {
  const random = prng(SAMPLE_SIZE.seed);
  const providers: Row[] = [];
  for (let index = 1; index <= SAMPLE_SIZE.providers; index += 1) {
    const id = providerId(index);
    const firstName = random.pick(FIRST_NAMES);
    const lastName = random.pick(FAKE_SURNAMES);
    const row: Row = {
      kind: 'provider',
      partnerUserId: id,
      email: emailOf(firstName, lastName, id),
      firstName,
      lastName,
    };
    if (random.chance(0.6)) {
      row.phoneNumber = `555-01${pad(random.int(0, 99), 2)}`;
      row.phoneCountryCode = '+1';
    }
    if (random.chance(0.7)) row.locale = random.pick(['en-US', 'en-US', 'es-US', 'en-GB']);
    if (random.chance(0.5)) row.pronoun = random.pick(PRONOUNS);
    if (random.chance(0.8)) row.nationalProviderIdentifier = npi(random);
    if (random.chance(0.8)) row.therapyLicence = random.pick(LICENCES);
    if (random.chance(0.5)) row.noteIdentifier = random.pick(NOTE_IDENTIFIERS);
    if (random.chance(0.4)) row.defaultNoteTemplateIds = [random.pick(TEMPLATE_IDS)];
    providers.push(row);
  }

  const clients: Row[] = [];
  for (let index = 1; index <= SAMPLE_SIZE.clients; index += 1) {
    const id = clientId(index);
    const firstName = random.pick(FIRST_NAMES);
    const lastName = random.pick(FAKE_SURNAMES);
    const count = random.chance(0.15) ? (random.chance(0.3) ? 3 : 2) : 1;
    const providerIds = new Set<string>();
    while (providerIds.size < count)
      providerIds.add(providerId(random.int(1, SAMPLE_SIZE.providers)));
    const row: Row = {
      kind: 'client',
      partnerUserId: id,
      firstName,
      lastName,
      providerPartnerUserIds: [...providerIds],
    };
    if (random.chance(0.7)) row.email = emailOf(firstName, lastName, id);
    if (random.chance(0.6)) row.locale = random.pick(['en-US', 'en-US', 'es-US']);
    if (random.chance(0.5)) row.pronoun = random.pick(PRONOUNS);
    if (random.chance(0.8)) row.dateOfBirth = dateOfBirth(random, 1950, 2008);
    if (random.chance(0.2)) row.defaultNoteTemplateIds = [random.pick(TEMPLATE_IDS)];
    clients.push(row);
  }

  const invalid: Record<keyof typeof INVALID_ROWS, Row> = {
    // A typo that lost the @.
    'p-041': {
      kind: 'provider',
      partnerUserId: 'p-041',
      email: 'wren.fauxley.p041example.com',
      firstName: 'Wren',
      lastName: 'Fauxley',
    },
    // The note identifier in lower case, as the partner's UI shows it.
    'p-042': {
      kind: 'provider',
      partnerUserId: 'p-042',
      email: 'kai.lorem.p042@example.com',
      firstName: 'Kai',
      lastName: 'Lorem',
      noteIdentifier: 'therapist',
    },
    // A practice administrator exported by mistake: not a kind this product syncs.
    'x-001': {
      kind: 'admin',
      partnerUserId: 'x-001',
      email: 'sage.nullberg.x001@example.com',
      firstName: 'Sage',
      lastName: 'Nullberg',
    },
    // The same client exported twice (an edited copy); the later row is rejected.
    'c-0010': { ...clients[9]!, lastName: `${String(clients[9]!.lastName)}-Madeup` },
    // A US-style date.
    'c-0401': {
      kind: 'client',
      partnerUserId: 'c-0401',
      firstName: 'Noa',
      lastName: 'Pretendo',
      providerPartnerUserIds: ['p-004'],
      dateOfBirth: '03/14/1987',
    },
    // A client nobody is treating yet.
    'c-0402': {
      kind: 'client',
      partnerUserId: 'c-0402',
      firstName: 'Bo',
      lastName: 'Synthetica',
      providerPartnerUserIds: [],
    },
    // The partner's own pronoun wording instead of Upheal's enumeration.
    'c-0403': {
      kind: 'client',
      partnerUserId: 'c-0403',
      firstName: 'Uma',
      lastName: 'Notreal',
      providerPartnerUserIds: ['p-011'],
      pronoun: 'she/her',
    },
    // A year typed as 2031 instead of 2001.
    'c-0404': {
      kind: 'client',
      partnerUserId: 'c-0404',
      firstName: 'Yael',
      lastName: 'Fictione',
      providerPartnerUserIds: ['p-020', 'p-006'],
      dateOfBirth: '2031-05-02',
    },
  };

  const rows: Row[] = [
    ...providers.slice(0, 20),
    invalid['p-041'],
    ...providers.slice(20),
    invalid['p-042'],
    invalid['x-001'],
    ...clients.slice(0, 150),
    invalid['c-0401'],
    ...clients.slice(150, 300),
    invalid['c-0010'],
    invalid['c-0402'],
    ...clients.slice(300),
    invalid['c-0403'],
    invalid['c-0404'],
  ];

  const byId = new Map(rows.map((row) => [row.partnerUserId, row]));
  const existingUsers = EXISTING_PROVIDER_IDS.map((id, index) => {
    const provider = byId.get(id)!;
    const user: Record<string, unknown> = {
      userType: 'HealthcareProvider',
      email: provider.email,
      firstName: provider.firstName,
      lastName: provider.lastName,
    };
    // Half were created by an earlier integration (they carry our id); half signed up on their own.
    if (index % 2 === 0) user.partnerUserId = id;
    return user;
  });

  return { rows, existingUsers, events: buildEvents(byId) };
}

/** The fields of a row, without `kind` and `partnerUserId`: an event's full-state `data`. */
function dataOf(row: Row): Record<string, unknown> {
  const { kind: _kind, partnerUserId: _id, ...fields } = row;
  return fields;
}

/** The ongoing events after the import: updates, a new provider and client, a reassignment, a delete. */
function buildEvents(byId: ReadonlyMap<string, Row>): Record<string, unknown>[] {
  const start = Date.parse('2026-11-27T09:00:00.000Z');
  const row = (id: string) => byId.get(id)!;
  const newProvider: Row = {
    kind: 'provider',
    partnerUserId: 'p-043',
    email: 'harper.exampleton.p043@example.com',
    firstName: 'Harper',
    lastName: 'Exampleton',
    therapyLicence: 'LMFT',
    noteIdentifier: 'Therapist',
  };
  const newClient: Row = {
    kind: 'client',
    partnerUserId: 'c-0405',
    firstName: 'Indy',
    lastName: 'Demoseed',
    email: 'indy.demoseed.c0405@example.com',
    providerPartnerUserIds: ['p-043', 'p-002'],
    dateOfBirth: '1991-07-19',
  };
  const steps: [string, string, Record<string, unknown> | undefined][] = [
    // An existing provider (linked by the import) renews their licence.
    ['provider.updated', 'p-002', { ...dataOf(row('p-002')), therapyLicence: 'LCSW' }],
    // A client's surname changes.
    ['client.updated', 'c-0005', { ...dataOf(row('c-0005')), lastName: 'Van Sandbox' }],
    // A provider joins the practice, then takes a new client shared with an existing provider.
    ['provider.created', 'p-043', dataOf(newProvider)],
    ['client.created', 'c-0405', dataOf(newClient)],
    // A client moves to the new provider, keeping their old one as secondary.
    [
      'client.providers_changed',
      'c-0012',
      {
        providerPartnerUserIds: [
          'p-043',
          ...(row('c-0012').providerPartnerUserIds as string[]).slice(0, 1),
        ],
      },
    ],
    // A provider changes how notes refer to them.
    ['provider.updated', 'p-009', { ...dataOf(row('p-009')), noteIdentifier: 'Clinician' }],
    // The new client's date of birth is corrected right after intake.
    ['client.updated', 'c-0405', { ...dataOf(newClient), dateOfBirth: '1991-09-17' }],
    // A client's pronoun is recorded.
    ['client.updated', 'c-0030', { ...dataOf(row('c-0030')), pronoun: 'NeutralThem' }],
    // A client leaves the practice.
    ['user.deleted', 'c-0020', undefined],
  ];
  return steps.map(([type, partnerUserId, data], index) => {
    const event: Record<string, unknown> = {
      eventId: `evt-20261127-${pad(index + 1, 4)}`,
      type,
      occurredAt: new Date(start + index * 7_000).toISOString(),
      partnerUserId,
    };
    if (data !== undefined) event.data = data;
    return event;
  });
}

/** The sample files by name, as text. */
export function renderSamples(samples: Samples = buildSamples()): Record<string, string> {
  return {
    'import.ndjson': samples.rows.map((row) => `${JSON.stringify(row)}\n`).join(''),
    'import.csv': csvHeader() + samples.rows.map((row) => csvLine(row)).join(''),
    'existing-users.json': `${JSON.stringify(samples.existingUsers, null, 2)}\n`,
    'events.ndjson': samples.events.map((event) => `${JSON.stringify(event)}\n`).join(''),
  };
}

if (import.meta.main) {
  for (const [name, text] of Object.entries(renderSamples())) {
    writeFileSync(join(import.meta.dirname, name), text);
  }
}
