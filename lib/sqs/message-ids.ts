/**
 * The one derivation of every FIFO `MessageGroupId` and `MessageDeduplicationId` the product sends.
 * SQS accepts at most 128 characters from ASCII letters, digits and punctuation (`\x21`–`\x7e`) in
 * both; partner ids may hold spaces and letters beyond ASCII (`"c 1001"`, `"ü-1"`), so an id is
 * used as it is only when it is short and made of a conservative ASCII subset, and otherwise
 * replaced by a marked SHA-256 digest. The mapping is pure: one partner id always gives one group
 * id, whichever queue or process sends it, so one user's messages stay in one group.
 */
import { createHash } from 'node:crypto';

/** SQS's limits on group and deduplication ids. */
export const SQS_ID_LIMITS = {
  /** Longest MessageGroupId or MessageDeduplicationId. */
  maxLength: 128,
} as const;

/** Everything SQS accepts in a group or deduplication id (ASCII letters, digits, punctuation). */
export const SQS_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * Ids kept as they are: ASCII letters, digits and `. _ : / + # -`. None of these is `~`, so a
 * kept id can never look like a digest below, and two different ids never share a group.
 */
const KEPT_AS_IS = /^[A-Za-z0-9._:/+#-]{1,128}$/;

/** Marks a digest id; `~` is outside the kept set, so no kept id starts with it. */
const DIGEST_MARK = '~h';

/** SHA-256 of parts joined by NUL (a separator no id or field can hold), as hex. */
function digest(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/** The id itself when it is short plain ASCII, otherwise `~h` and its SHA-256 digest. */
function safeId(value: string): string {
  return KEPT_AS_IS.test(value) ? value : `${DIGEST_MARK}${digest([value])}`;
}

/** The MessageGroupId of a partner user (or of another ordering subject such as a job id). */
export function sqsGroupId(subject: string): string {
  return safeId(subject);
}

/** The MessageDeduplicationId of one partner event: a re-sent event id is the same message. */
export function sqsEventDeduplicationId(eventId: string): string {
  return safeId(eventId);
}

/**
 * A MessageDeduplicationId built from several parts (job and line, type and cause…): their
 * SHA-256 digest in hex, so parts of any content and length make a valid id.
 */
export function sqsDigestDeduplicationId(parts: readonly string[]): string {
  return digest(parts);
}
