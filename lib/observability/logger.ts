/**
 * Structured JSON logging with Powertools Logger: one JSON object per line, correlation ids as
 * fields. What may be logged is decided by the callers, which pass ids only (partner and Upheal
 * user ids, event and job ids, counts, reasons) — never names, emails, dates of birth, phone
 * numbers, the API key or an `inviteUrl`.
 */
import { Logger } from '@aws-lambda-powertools/logger';

/** The logger of one function or tool; `LOG_LEVEL` (Powertools' variable) sets the level. */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

export type { Logger };
