/**
 * Opens a job's rows as text for `parseImport`: an S3 object's body as a stream (never loaded
 * whole, so a file of any size fits in a Lambda's memory), or inline records as NDJSON lines (the
 * n-th record is line n).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TextSource } from '#lib/import/text-stream.ts';
import type { JobSource } from '#lib/jobs/job.ts';

/** Opens a job's source; called once per pass over the rows (planning, each fan-out). */
export type SourceOpener = (source: JobSource) => Promise<TextSource>;

/** Reads S3 objects with `s3` and inline records from the job itself. */
export function sourceOpener(s3: S3Client): SourceOpener {
  return async (source) => {
    if ('records' in source) return inlineText(source.records);
    const { Body } = await s3.send(
      new GetObjectCommand({ Bucket: source.bucket, Key: source.key }),
    );
    if (!Body) throw new Error(`s3://${source.bucket}/${source.key} has no body`);
    // In Node the body is a Readable: an async iterable of byte chunks.
    return Body as AsyncIterable<Uint8Array>;
  };
}

/** Inline records as NDJSON text, one record per line. */
export function* inlineText(records: readonly Record<string, unknown>[]): Generator<string> {
  for (const record of records) yield `${JSON.stringify(record)}\n`;
}
