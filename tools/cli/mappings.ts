/**
 * Reading the user mappings for the operator: every mapping item of the table, page by page (a
 * scan, so an export of any size is streamed), reduced to the ids the partner needs. A mapping
 * holds no clinical data; what leaves here is ids, kind, state and version only.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { csvCell } from '#lib/import/csv-writer.ts';
import { KEY } from '#lib/store/keys.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';

/** One exported mapping: what the partner stores to address the user in Upheal. */
export interface MappingRow {
  readonly partnerUserId: string;
  readonly kind: string;
  /** The Upheal user id; for a deleted user, the id it had. Empty while pending. */
  readonly uphealUserId: string;
  readonly state: string;
  /** `occurredAt` (ISO-8601) of the last applied event; empty when none. */
  readonly version: string;
  /** The event id of that event. */
  readonly versionEventId: string;
}

/** The CSV columns of the export, in order. */
export const MAPPING_COLUMNS: readonly (keyof MappingRow)[] = [
  'partnerUserId',
  'kind',
  'uphealUserId',
  'state',
  'version',
  'versionEventId',
];

/** A stored mapping item as exported. */
export function mappingRow(
  item: UserMapping & { readonly deletedUphealUserId?: string },
): MappingRow {
  return {
    partnerUserId: item.partnerUserId,
    kind: item.kind,
    uphealUserId: item.uphealUserId ?? item.deletedUphealUserId ?? '',
    state: item.state,
    version: item.version ? new Date(item.version.ms).toISOString() : '',
    versionEventId: item.version?.eventId ?? '',
  };
}

/** The CSV header line. */
export const mappingCsvHeader = (): string => `${MAPPING_COLUMNS.join(',')}\r\n`;

/** One row as a CSV line (RFC 4180 quoting, CRLF). */
export function mappingCsvLine(row: MappingRow): string {
  return `${MAPPING_COLUMNS.map((column) => csvCell(row[column])).join(',')}\r\n`;
}

/** Every mapping of the table, one scan page at a time. */
export async function* scanMappings(
  client: DynamoDBDocumentClient,
  tableName: string,
): AsyncGenerator<MappingRow[]> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        // A shell item (a lease or claim of a user with no mapping yet) has no revision.
        FilterExpression: 'sk = :mapping AND begins_with(pk, :user) AND attribute_exists(rev)',
        ExpressionAttributeValues: { ':mapping': KEY.mappingSk, ':user': KEY.userPrefix },
        ExclusiveStartKey: startKey,
      }),
    );
    const rows = (page.Items ?? []).map((item) => mappingRow(item as UserMapping));
    if (rows.length > 0) yield rows;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
