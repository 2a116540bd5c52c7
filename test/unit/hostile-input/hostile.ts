/**
 * Arbitraries of hostile partner input for the hostile-input suite: valid events with canary
 * strings planted where clinical data goes (names, emails, unknown keys and their values, invalid
 * ids), text with every kind of Unicode (lone surrogates, noncharacters, bidi and zero-width
 * characters), far-future times, and raw bytes. A canary holds CANARY, so a test can tell that no
 * input value reached a log line, an error message or a response body.
 */
import fc from 'fast-check';
import { partnerEventArbitrary } from '#test/unit/events/arbitraries.ts';

/** The marker every planted value holds; output is searched for it case-insensitively. */
export const CANARY = 'Qx9Canary';

/** Whether `text` carries a planted value. */
export function hasCanary(text: string): boolean {
  return text.toLowerCase().includes(CANARY.toLowerCase());
}

/** Characters that break naive handling: bidi, zero-width, noncharacters, lone surrogates, controls. */
const NASTY_CHARACTERS = [
  '\u202e',
  '\u2066',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\uffff',
  '\ufffe',
  '\ufdd0',
  '\u{10ffff}',
  '\ud800',
  '\udc00',
  '\u0000',
  '\u001b',
  '\u0085',
  '"',
  '\\',
  '\n',
  '@',
  ' ',
  'ü',
  '😀',
];

/** Text of any code points, with the nasty ones frequent. */
export const nastyTextArbitrary = fc
  .array(
    fc.oneof(
      fc.constantFrom(...NASTY_CHARACTERS),
      fc.string({ unit: 'binary', maxLength: 4 }),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

/** A value that must never be echoed: nasty text around the canary. */
export const canaryArbitrary = fc
  .tuple(nastyTextArbitrary, nastyTextArbitrary)
  .map(([before, after]) => `${before}${CANARY}${after}`);

/** An invalid id carrying the canary (`@` keeps it out of the id character set). */
export const canaryIdArbitrary = canaryArbitrary.map((text) => `${text}@x`);

/** One change that makes a valid event hostile. */
type Mutation = (event: Record<string, unknown>) => Record<string, unknown>;

/** Sets `data[field]`, creating `data` when the event has none. */
function withData(field: string, value: unknown): Mutation {
  return (event) => ({
    ...event,
    data: { ...((event.data as Record<string, unknown> | undefined) ?? {}), [field]: value },
  });
}

/** Sets a top-level key of the event. */
function withTop(key: string, value: unknown): Mutation {
  return (event) => ({ ...event, [key]: value });
}

/** The mutations of the suite. */
const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(
        'firstName',
        'lastName',
        'email',
        'phoneNumber',
        'therapyLicence',
        'dateOfBirth',
      ),
      canaryArbitrary,
    )
    .map(([field, value]) => withData(field, value)),
  fc.tuple(canaryArbitrary, canaryArbitrary).map(([key, value]) => withData(key, value)),
  fc.tuple(canaryArbitrary, canaryArbitrary).map(([key, value]) => withTop(key, value)),
  canaryIdArbitrary.map((id) => withTop('eventId', id)),
  canaryIdArbitrary.map((id) => withTop('partnerUserId', id)),
  canaryIdArbitrary.map((id) => withData('providerPartnerUserIds', [id])),
  canaryArbitrary.map((type) => withTop('type', type)),
  fc
    .constantFrom('9999-01-01T00:00:00.000Z', '2999-12-31T23:59:59Z', '+275760-09-13T00:00:00.000Z')
    .map((occurredAt) => withTop('occurredAt', occurredAt)),
  canaryArbitrary.map((occurredAt) => withTop('occurredAt', occurredAt)),
  canaryArbitrary.map((value) => withTop('data', value)),
  fc.jsonValue().map((value) => withTop('data', value)),
);

/** A partner event with zero to three hostile mutations. */
export const hostileEventArbitrary: fc.Arbitrary<unknown> = fc
  .tuple(partnerEventArbitrary, fc.array(mutationArbitrary, { maxLength: 3 }))
  .map(([event, mutations]) =>
    mutations.reduce<Record<string, unknown>>((current, mutate) => mutate(current), {
      ...(event as unknown as Record<string, unknown>),
    }),
  );

/** A JSON text broken at one byte: truncated, or one byte replaced. */
export function breakBytes(text: string, position: number, byte: number, truncate: boolean) {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return bytes;
  const at = position % bytes.length;
  if (truncate) return bytes.subarray(0, at);
  const copy = Buffer.from(bytes);
  copy[at] = byte;
  return copy;
}

/** Runs `body` and resolves with every unhandled rejection seen while it ran. */
export async function unhandledRejectionsDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  try {
    await body();
    // Let rejections of promises nobody awaited surface.
    await new Promise((done) => setImmediate(done));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}
