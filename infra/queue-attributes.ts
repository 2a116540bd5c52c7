/**
 * Queue attributes that are not per-queue choices but house rules, shared by the CloudFormation
 * template (`infra/cloudformation.ts`) and the local stack (`tools/local/aws-services.ts`), so both
 * create the same queues from `infra/resources.ts`.
 */

/** How long messages are kept: SQS's default on live queues, its maximum on dead-letter queues. */
export const RETENTION_SECONDS = {
  queue: 345_600,
  deadLetter: 1_209_600,
} as const;

/** Deduplication is by explicit MessageDeduplicationId (event ids), never by body hash. */
export const CONTENT_BASED_DEDUPLICATION = false;
