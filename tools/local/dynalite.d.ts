/** Types for dynalite (DynamoDB emulator), which ships none: the factory returns a plain HTTP server. */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  /** Options of the dynalite factory (see its readme). */
  interface DynaliteOptions {
    /** LevelDB directory; omitted means in memory. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }

  /** Creates an unstarted HTTP server speaking the DynamoDB API. */
  export default function dynalite(options?: DynaliteOptions): Server;
}
