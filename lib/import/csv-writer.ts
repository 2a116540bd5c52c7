/**
 * Writes import records as CSV in the form `parseImport` reads (RFC 4180 quoting, `;` between
 * list items, CRLF line breaks). Used to produce sample files and failure exports; the round trip
 * through `parseImport` is tested.
 */
import { IMPORT_COLUMNS, LIST_COLUMNS } from './import-record.ts';
import { LIST_SEPARATOR } from './parse-import.ts';

/** RFC 4180's line break. */
export const CSV_LINE_BREAK = '\r\n';

/** Whether a cell must be quoted to read back unchanged (separators, quotes, breaks, edge spaces). */
function needsQuotes(cell: string): boolean {
  return /[",\r\n]/.test(cell) || cell.trim() !== cell;
}

/** One cell, quoted when needed, inner quotes doubled. */
export function csvCell(cell: string): string {
  return needsQuotes(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/** The header row naming every import column, with its line break. */
export function csvHeader(columns: readonly string[] = IMPORT_COLUMNS): string {
  return columns.map(csvCell).join(',') + CSV_LINE_BREAK;
}

/**
 * One flat row (`{ kind, partnerUserId, ...fields }`) as a CSV line with its line break. Absent
 * fields become empty cells; list fields are joined with `;`. Other values are written with
 * `String()`, so a deliberately invalid row can be written too.
 */
export function csvLine(row: Readonly<Record<string, unknown>>, columns = IMPORT_COLUMNS): string {
  const cells = columns.map((column) => {
    const value = row[column];
    if (value === undefined || value === null) return '';
    if (Array.isArray(value) && LIST_COLUMNS.includes(column)) {
      return csvCell(value.map(String).join(LIST_SEPARATOR));
    }
    return csvCell(String(value));
  });
  return cells.join(',') + CSV_LINE_BREAK;
}
